#!/usr/bin/env bash
# make soak: a real-process nemesis over SOAK_MINUTES minutes (default 10).
# A 5-node cluster (SOAK_NODES=3 for three) with a tiny --snapshot-entries,
# so compaction and InstallSnapshot happen all the time; linclient rounds
# of SOAK_WINDOW seconds (30) write and read throughout, each round on keys
# of its own (r<N>_k<K>) so the history splits into windows the checker
# handles one at a time; a nemesis draws faults at random (one function
# per kind, fault_<kind>, weighted by SOAK_FAULTS). At the end it heals,
# restarts everything, converges, and checks: every round's history is
# linearizable (lincheck, final reads included), no node crashed, the
# committed logs and the kv tables of all members are identical, and every
# write acknowledged OK is in every member's kv table unless a write not
# known to precede it replaced it (values are unique per write, so each
# final value names the write that made it). Prints ops, faults by kind,
# anomalies and acknowledged writes lost; exits 0 only when both are 0.
# A failing run keeps its directory (histories, nemesis log, node logs,
# databases) and says where. test_nemesis.sh (ctest proc_nemesis) is this
# script for 30 s without compaction, proc_nemesis_snapshot with it.
#
# Knobs: SOAK_SEED (printed; repeats the schedule, not the timing),
# SOAK_PORT (24500), SOAK_GAP (3: faults every 0..GAP s), SOAK_TIMEOUT_MS
# (2000), SOAK_SECONDS (instead of the minutes), SOAK_CLIENTS (8),
# SOAK_KEYS (5 per round), SOAK_UP_ARGS
# ("--snapshot-entries 64 --log-keep 16"), SOAK_FAULTS (kind:weight list).
#
# truncated_wal cuts a follower's WAL through real frames and starts it
# (the leader must report the loss and repair it); member_change replaces a
# member with `raftctl replace` (a killed one when there is one), so the
# member ids change: every step uses the ids in cluster.conf, which raftctl
# keeps in step. disk_full (root only, else skipped with a line): one
# member's database lives on a small tmpfs (SOAK_FULL_MB, 64) that this
# script mounts and always unmounts; the fault fills it with a file of
# zeros for 2-8 s (until status shows the member's disk full), deletes it,
# and requires the member to resume by itself within 30 s (status answers,
# disk ok, its applied index advances); a member that does not is an
# anomaly. The summary counts fills, how many status saw full, resumes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

SEED=${SOAK_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
MINUTES=${SOAK_MINUTES:-10}
RUN_S=${SOAK_SECONDS:-$((MINUTES * 60))} # Overrides the minutes.
N=${SOAK_NODES:-5}
GAP=${SOAK_GAP:-3}
TIMEOUT_MS=${SOAK_TIMEOUT_MS:-2000}
WINDOW=${SOAK_WINDOW:-30}
CLIENTS=${SOAK_CLIENTS:-8}
KEYS=${SOAK_KEYS:-5}
UP_ARGS=${SOAK_UP_ARGS---snapshot-entries 64 --log-keep 16} # Set empty: none.
FAULT_WEIGHTS=${SOAK_FAULTS:-kill:2 kill_leader:1 restart:5 pause:1 \
pause_leader:1 partition:2 isolate_leader:1 netem:2 disk_delay:2 crash_all:1 \
heal:3 disk_full:2 truncated_wal:1 member_change:1}
RANDOM=$SEED
MAX_DOWN=$(((N - 1) / 2)) # Killed or paused at once: a majority stays.
NLOG="$DIR/nemesis.log"
CLOG="$DIR/nemesis-raftctl.log"
echo "soak: seed $SEED (repeat with SOAK_SEED=$SEED), ${RUN_S}s, $N nodes," \
    "dir $DIR"

# ---------------------------------------------------------------- faults
declare -A N_FAULT=()   # Faults injected, by kind.
declare -A N_SKIPPED=() # Draws of a kind that could not run.
declare -A SKIP_WHY=()  # Why, by kind (the first reason).
N_REFUSED=0             # raftctl replace calls that failed or were refused.
DOWN=""                 # Ids of the nodes killed, space separated.
PAUSED=""               # Ids of the nodes stopped with SIGSTOP.

# nem KIND TEXT: logs one injected fault and counts it.
nem() {
    local kind=$1
    shift
    echo "[$(($(now_ms) - T0)) ms] $kind: $*" >>"$NLOG"
    N_FAULT[$kind]=$((${N_FAULT[$kind]:-0} + 1))
}

# unavailable KIND WHY: a drawn fault that cannot run here.
unavailable() {
    if [ -z "${N_SKIPPED[$1]:-}" ]; then
        echo "soak: fault $1 skipped: $2" >&2
        SKIP_WHY[$1]=$2
    fi
    N_SKIPPED[$1]=$((${N_SKIPPED[$1]:-0} + 1))
}

# The current members' ids (cluster.conf), space separated.
members() {
    awk '$1 ~ /^[0-9]+$/ { print $1 }' "$DIR/cluster.conf" | xargs
}

n_down() {
    echo $DOWN $PAUSED | wc -w
}

# A random member that is up and running, or nothing.
random_up() {
    local ups=() id
    for id in $(members); do
        case " $DOWN $PAUSED " in *" $id "*) ;; *) ups+=("$id") ;; esac
    done
    [ ${#ups[@]} -gt 0 ] && echo "${ups[$(rand ${#ups[@]})]}"
}

kill_node() { # kill_node KIND ID
    [ -n "$2" ] && [ "$(n_down)" -lt "$MAX_DOWN" ] || return 0
    ctl kill "$2" >>"$CLOG" 2>&1 && DOWN="$DOWN $2" && nem "$1" "kill -9 node $2"
}

pause_node() { # pause_node KIND ID
    [ -n "$2" ] && [ "$(n_down)" -lt "$MAX_DOWN" ] || return 0
    ctl kill "$2" --signal STOP >>"$CLOG" 2>&1 && PAUSED="$PAUSED $2" &&
        nem "$1" "pause (SIGSTOP) node $2"
}

fault_kill() { kill_node kill "$(random_up)"; }
fault_kill_leader() { kill_node kill_leader "$(leader_id)"; }
fault_pause() { pause_node pause "$(random_up)"; }
fault_pause_leader() { pause_node pause_leader "$(leader_id)"; }

# Restarts a killed node or resumes a paused one.
fault_restart() {
    local ids=($DOWN $PAUSED) id
    [ ${#ids[@]} -gt 0 ] || return 0
    id=${ids[$(rand ${#ids[@]})]}
    case " $PAUSED " in
    *" $id "*)
        ctl kill "$id" --signal CONT >>"$CLOG" 2>&1
        PAUSED=$(echo " $PAUSED " | sed "s/ $id / /" | xargs)
        nem restart "resume (SIGCONT) node $id"
        return 0
        ;;
    esac
    ctl start "$id" >>"$CLOG" 2>&1 || echo "start $id failed" >>"$CLOG"
    DOWN=$(echo " $DOWN " | sed "s/ $id / /" | xargs)
    nem restart "start node $id"
}

# partition KIND [MINORITY]: splits a random minority (or MINORITY, a comma
# list) from the rest.
partition() {
    local kind=$1 minority=${2:-} rest="" id size
    if [ -z "$minority" ]; then
        size=$(($(rand "$MAX_DOWN") + 1))
        minority=$(members | tr ' ' '\n' | shuf -n "$size" --random-source=<(yes "$RANDOM") |
            paste -sd,)
    fi
    for id in $(members); do
        case ",$minority," in *",$id,"*) ;; *) rest="${rest:+$rest,}$id" ;; esac
    done
    ctl partition "$minority" "$rest" >>"$CLOG" 2>&1
    nem "$kind" "partition $minority | $rest"
}

fault_partition() { partition partition; }
fault_isolate_leader() {
    local l
    l=$(leader_id)
    [ -z "$l" ] || partition isolate_leader "$l"
}

fault_netem() {
    local loss dup delay jitter node=""
    loss=0.$(printf '%02d' $(($(rand 30) + 5)))
    dup=0.$(printf '%02d' "$(rand 10)")
    delay=$(rand 30)
    jitter=$(rand 20)
    [ "$(rand 2)" = 0 ] && node="--node $(members | tr ' ' '\n' | shuf -n 1)"
    # shellcheck disable=SC2086 # node is empty or two words.
    ctl netem --loss "$loss" --dup "$dup" --delay "$delay" --jitter "$jitter" \
        $node >>"$CLOG" 2>&1
    nem netem "loss=$loss dup=$dup delay=${delay}ms jitter=${jitter}ms ${node:-all}"
}

# Every persist of one node stalls 50-400 ms until the next heal.
fault_disk_delay() {
    local id ms
    id=$(random_up)
    [ -n "$id" ] || return 0
    ms=$((50 + $(rand 351)))
    ctl netem --disk-delay "$ms" --node "$id" >>"$CLOG" 2>&1
    nem disk_delay "${ms}ms node $id"
}

# Power failure: SIGKILL every node at once, then start them all.
fault_crash_all() {
    local id pids=()
    for id in $(members); do
        case " $DOWN " in
        *" $id "*) ;;
        *)
            ctl kill "$id" >>"$CLOG" 2>&1 &
            pids+=($!)
            ;;
        esac
    done
    wait "${pids[@]}"
    PAUSED=""
    for id in $(members); do
        ctl start "$id" >>"$CLOG" 2>&1 || echo "start $id failed" >>"$CLOG"
    done
    DOWN=""
    nem crash_all "kill -9 every node, start them all"
}

fault_heal() {
    ctl heal >>"$CLOG" 2>&1
    nem heal "heal"
}

# Hooks for the faults other branches build (issue 17 items 3, 5 and the
# membership issue 18). Each gets the cluster as it is (DOWN, PAUSED, N,
# ctl) and must leave a majority able to serve; after the nemesis, heal_all
# and restart_all below must undo it.
# disk_full: FULL_ID's database (nodeN.db, -wal, -shm, .snap) lives on the
# tmpfs FULL_MNT (setup_disk_full, after up); nodeN.db in $DIR is a link to
# it (raftnode works beside the file a link names).
FULL_ID=""
FULL_MNT=""
FULL_WHY=""
FULL_FILLS=0   # Fills done.
FULL_SEEN=0    # ... during which status showed the member's disk full.
FULL_RESUMED=0 # ... after which it resumed within 30 s.
FULL_MAX_MS=0  # The slowest resume, from deleting the filler.
setup_disk_full() {
    local w
    w=$(printf '%s\n' $FAULT_WEIGHTS | sed -n 's/^disk_full://p')
    [ -n "$w" ] && [ "$w" != 0 ] || return 0 # Not drawn: no tmpfs.
    if [ "$(id -u)" != 0 ]; then
        FULL_WHY="not root (it mounts a tmpfs)"
        return 0
    fi
    FULL_MNT=$(mktemp -d /tmp/raft-soak-full.XXXXXX)
    if ! mount -t tmpfs -o "size=${SOAK_FULL_MB:-64}m,mode=0700" tmpfs \
        "$FULL_MNT" 2>"$DIR/mount.err"; then
        FULL_WHY="cannot mount a tmpfs: $(cat "$DIR/mount.err")"
        rmdir "$FULL_MNT"
        FULL_MNT=""
        return 0
    fi
    FULL_ID=$(members | awk '{ print $NF }')
    ctl kill "$FULL_ID" >>"$CLOG" 2>&1 || jfail "kill $FULL_ID to move its database"
    local f
    for f in "$DIR/node$FULL_ID".db "$DIR/node$FULL_ID".db-wal \
        "$DIR/node$FULL_ID".db-shm "$DIR/node$FULL_ID".snap; do
        [ -e "$f" ] && { mv "$f" "$FULL_MNT/" || jfail "move $f to the tmpfs"; }
    done
    ln -s "$FULL_MNT/node$FULL_ID.db" "$DIR/node$FULL_ID.db"
    ctl start "$FULL_ID" >>"$CLOG" 2>&1 || jfail "start $FULL_ID on the tmpfs"
    echo "soak: node $FULL_ID's database is on a ${SOAK_FULL_MB:-64} MiB tmpfs" \
        "($FULL_MNT) for disk_full"
}
# Always unmounted; a kept directory gets the member's files back.
cleanup_disk_full() {
    [ -n "$FULL_MNT" ] || return 0
    if [ -d "$DIR" ] && [ -L "$DIR/node$FULL_ID.db" ]; then
        rm -f "$DIR/node$FULL_ID.db" "$FULL_MNT/filler"
        cp -a "$FULL_MNT"/. "$DIR/" 2>/dev/null
    fi
    umount "$FULL_MNT" 2>/dev/null || umount -l "$FULL_MNT" 2>/dev/null
    rmdir "$FULL_MNT" 2>/dev/null
}
full_line() { # Status's "disk of member N: full" line for FULL_ID.
    ctl status 2>/dev/null | grep -q "^disk of member $FULL_ID: full"
}
fault_disk_full() {
    local id=$FULL_ID t_end a0 t0 resumed_at=""
    if [ -z "$id" ]; then
        unavailable disk_full "$FULL_WHY"
        return 0
    fi
    case " $(members) " in
    *" $id "*) ;;
    *)
        unavailable disk_full "node $id (on the tmpfs) is no longer a member"
        return 0
        ;;
    esac
    case " $DOWN $PAUSED " in *" $id "*) return 0 ;; esac
    # A full member serves nothing: it counts as one more down.
    [ "$(n_down)" -lt "$MAX_DOWN" ] || return 0
    ctl heal >>"$CLOG" 2>&1 # Its applied index must be able to advance.
    dd if=/dev/zero of="$FULL_MNT/filler" bs=1M 2>/dev/null
    FULL_FILLS=$((FULL_FILLS + 1))
    nem disk_full "fill node $id's file system ($(df -k "$FULL_MNT" |
        awk 'NR == 2 { print $4 }') KiB left)"
    # Hold it 2 s, and on until status shows the disk full (8 s at most).
    t0=$(now_ms)
    t_end=$((t0 + 8000))
    while [ "$(now_ms)" -lt "$t_end" ]; do
        if full_line; then
            FULL_SEEN=$((FULL_SEEN + 1))
            echo "[$(($(now_ms) - T0)) ms] disk_full: status shows node $id" \
                "full after $(($(now_ms) - t0)) ms" >>"$NLOG"
            while [ "$(now_ms)" -lt $((t0 + 2000)) ]; do sleep 0.2; done
            break
        fi
        sleep 0.2
    done
    a0=$(status_py "by_id[$id]['applied'] if by_id[$id]['alive'] else 0" 2>/dev/null)
    rm -f "$FULL_MNT/filler"
    t0=$(now_ms)
    t_end=$((t0 + 30000))
    while [ "$(now_ms)" -lt "$t_end" ]; do
        if [ "$(status_py "by_id[$id]['alive'] and by_id[$id]['applied'] > ${a0:-0}" \
            2>/dev/null)" = True ] && ! full_line; then
            resumed_at=$(($(now_ms) - t0))
            break
        fi
        sleep 0.2
    done
    if [ -n "$resumed_at" ]; then
        FULL_RESUMED=$((FULL_RESUMED + 1))
        [ "$resumed_at" -gt "$FULL_MAX_MS" ] && FULL_MAX_MS=$resumed_at
        echo "[$(($(now_ms) - T0)) ms] disk_full: space freed, node $id" \
            "resumed after $resumed_at ms" >>"$NLOG"
    else
        echo "[$(($(now_ms) - T0)) ms] disk_full: node $id did not resume" \
            "within 30 s of the space returning" >>"$NLOG"
    fi
}
# A lying disk: kill a follower, cut its nodeN.db-wal through half the
# committed frames its -shm index names (as test_lost_wal.sh), start it.
# Only with every member up (a majority still holds what it lost) and the
# network healed; waits (30 s at most) until the leader has repaired it:
# its log reaches the leader's commit again.
fault_truncated_wal() {
    local l f db
    [ "$(n_down)" = 0 ] || return 0
    l=$(leader_id)
    f=$(status_py "[n['id'] for n in alive if n['role'] != 'leader'][0]" 2>/dev/null)
    [ -n "$l" ] && [ -n "$f" ] || return 0
    ctl heal >>"$CLOG" 2>&1
    ctl kill "$f" >>"$CLOG" 2>&1 || return 0
    db=$(readlink -f "$DIR/node$f.db") # The disk_full member's is a link.
    if ! python3 - "$db" >>"$CLOG" 2>&1 <<'PY'; then
import os, struct, sys
db = sys.argv[1]
hdr = open(db + "-shm", "rb").read(48)
page, mx = struct.unpack("<HI", hdr[14:20])
if mx <= 4:
    sys.exit("only %d WAL frames: nothing to cut" % mx)
cut = 32 + (mx // 2) * (page + 24) + 100  # inside a frame
os.truncate(db + "-wal", cut)
print("cut %s-wal to %d bytes (%d of %d frames)" % (db, cut, mx // 2, mx))
PY
        ctl start "$f" >>"$CLOG" 2>&1
        unavailable truncated_wal "node $f's WAL held too few frames"
        return 0
    fi
    ctl start "$f" >>"$CLOG" 2>&1 || echo "start $f failed" >>"$CLOG"
    nem truncated_wal "kill -9 node $f, cut its WAL, start it"
    repaired() {
        [ "$(status_py "by_id[$f]['alive'] and leaders != [] and \
by_id[$f]['last_index'] >= max(leaders, key=lambda n: n['term'])['commit']")" = True ]
    }
    local until=$(($(now_ms) + 30000))
    while ! repaired; do
        if [ "$(now_ms)" -gt "$until" ]; then
            echo "[$(($(now_ms) - T0)) ms] truncated_wal: node $f not" \
                "repaired within 30 s" >>"$NLOG"
            return 0
        fi
        sleep 0.2
    done
    echo "[$(($(now_ms) - T0)) ms] truncated_wal: node $f repaired" >>"$NLOG"
}

# raftctl replace: a killed member (a lost one) when there is one, else a
# live follower, is removed and a fresh member on a new id catches up and
# becomes a voter. Heals the network first (a change under a partition is
# refused or times out, which is counted as refused).
fault_member_change() {
    local l ids=() id out rc
    l=$(leader_id)
    [ -n "$l" ] || return 0
    # Never the member on the tmpfs (disk_full needs it).
    for id in $DOWN; do [ "$id" = "$FULL_ID" ] || ids+=("$id"); done
    if [ ${#ids[@]} = 0 ]; then
        id=$(random_up)
        [ -n "$id" ] && [ "$id" != "$l" ] && [ "$id" != "$FULL_ID" ] && ids+=("$id")
    fi
    [ ${#ids[@]} -gt 0 ] || return 0
    id=${ids[$(rand ${#ids[@]})]}
    ctl heal >>"$CLOG" 2>&1
    out=$(ctl replace "$id" 2>&1)
    rc=$?
    echo "replace $id: rc=$rc $out" >>"$CLOG"
    case " $(members) " in
    *" $id "*) ;; # Not removed (refused): nothing changed.
    *) DOWN=$(echo " $DOWN " | sed "s/ $id / /" | xargs) ;;
    esac
    if [ "$rc" = 0 ]; then
        nem member_change "replace node $id by node $(echo "$out" | tail -1)"
    else
        N_REFUSED=$((N_REFUSED + 1))
    fi
}

# The weighted draw: one kind name per unit of weight.
usage_error() {
    echo "soak: SOAK_FAULTS: $* (kinds: $(declare -F | sed -n 's/.* fault_//p' | xargs))" >&2
    exit 2
}
DRAW=()
for kw in $FAULT_WEIGHTS; do
    kind=${kw%%:*}
    declare -F "fault_$kind" >/dev/null || usage_error "no fault kind '$kind'"
    for _ in $(seq "${kw#*:}"); do DRAW+=("$kind"); done
done
[ ${#DRAW[@]} -gt 0 ] || usage_error "every weight is 0"

# shellcheck disable=SC2086 # UP_ARGS is a list of options.
up_detached "${SOAK_PORT:-24500}" -n "$N" $UP_ARGS
wait_until 20 "a leader" has_one_leader
setup_disk_full
wait_until 20 "a leader" has_one_leader

T0=$(now_ms)
# The nemesis stops a tenth of the run (3 to 15 s) before the clients, so
# they finish on a healed cluster.
TAIL_S=$((RUN_S / 10 < 3 ? 3 : RUN_S / 10 > 15 ? 15 : RUN_S / 10))
NEMESIS_END=$((T0 + (RUN_S - TAIL_S) * 1000))
CLIENT_END=$((T0 + RUN_S * 1000))

# Client rounds in the background until CLIENT_END: round R appends to
# hist-rR.txt, and "R RC" to rounds.txt when it ends.
client_rounds() {
    local r=0 left d
    while :; do
        left=$(((CLIENT_END - $(now_ms)) / 1000))
        [ "$left" -ge 5 ] || break
        r=$((r + 1))
        d=$((left < WINDOW ? left : WINDOW))
        "$BIN/linclient" --config "$DIR/cluster.conf" --out "$DIR/hist-r$r.txt" \
            --clients "$CLIENTS" --keys "$KEYS" --duration "$d" \
            --timeout "$TIMEOUT_MS" --seed "$((SEED * 1000 + r))" \
            --prefix "r${r}_" 2>"$DIR/linclient-r$r.log" &
        echo $! >"$DIR/linclient.pid"
        wait $!
        echo "$r $?" >>"$DIR/rounds.txt"
    done
}
client_rounds &
CL_PID=$!
soak_cleanup() {
    if [ -n "$CL_PID" ]; then
        kill "$CL_PID" 2>/dev/null
        [ -f "$DIR/linclient.pid" ] && kill "$(cat "$DIR/linclient.pid")" 2>/dev/null
    fi
    proc_cleanup
    cleanup_disk_full
}
trap soak_cleanup EXIT

while [ "$(now_ms)" -lt "$NEMESIS_END" ]; do
    "fault_${DRAW[$(rand ${#DRAW[@]})]}"
    sleep "$(rand "$GAP").$(rand 10)"
done

# ---------------------------------------------------------------- the end
# Heal, resume and restart everything; the clients finish on a healthy
# cluster.
for id in $PAUSED; do
    ctl kill "$id" --signal CONT >>"$CLOG" 2>&1 || jfail "resume $id after the nemesis"
done
PAUSED=""
heal_all() {
    ctl heal >>"$CLOG" 2>&1 # Repeated: a node inside a disk stall is deaf.
}
wait_until 30 "heal applied on every running node" heal_all
for id in $DOWN; do
    ctl start "$id" >>"$CLOG" 2>&1 || jfail "start $id after the nemesis"
done
DOWN=""
all_up_one_leader() {
    [ "$(status_py "len(alive) == len(d) and len(leaders) == 1")" = True ]
}
wait_until 60 "every node up with one leader" all_up_one_leader
wait "$CL_PID"
CL_PID=""
ROUNDS=$(wc -l <"$DIR/rounds.txt")

ANOMALIES=0
declare -a WHY=()
anomaly() { # anomaly COUNT TEXT
    [ "$1" -gt 0 ] || return 0
    ANOMALIES=$((ANOMALIES + $1))
    WHY+=("$1 $2")
}

# linclient's own check: answers that make no sense for the request.
bad=$(cat "$DIR"/linclient-r*.log | grep -c "unexpected answer")
anomaly "$bad" "unexpected answers (linclient-r*.log)"

# Final reads with a long timeout, then the checker, one round at a time.
T1=$(now_ms)
not_lin=0
undecided=0
for r in $(seq "$ROUNDS"); do
    "$BIN/linclient" --config "$DIR/cluster.conf" --out "$DIR/hist-r$r.txt" \
        --keys "$KEYS" --final --timeout 15000 --prefix "r${r}_" \
        >"$DIR/final-r$r.txt" 2>>"$DIR/linclient-r$r.log" ||
        jfail "final reads of round $r failed: $(tail -1 "$DIR/linclient-r$r.log")"
    "$BIN/lincheck" "$DIR/hist-r$r.txt" >"$DIR/lincheck-r$r.txt" 2>&1
    case $? in
    0) ;;
    1)
        not_lin=$((not_lin + 1))
        cat "$DIR/lincheck-r$r.txt" >&2
        ;;
    *)
        undecided=$((undecided + 1))
        cat "$DIR/lincheck-r$r.txt" >&2
        ;;
    esac
done
CHECK_MS=$(($(now_ms) - T1))
anomaly "$not_lin" "rounds not linearizable (lincheck-r*.txt)"
anomaly "$undecided" "rounds the checker could not decide (lincheck-r*.txt)"

# Only the nemesis may stop a node: no abort, no fail-stop exit.
crashes=$(grep -cE "died signal=(6|11|7|8)|exited status=[1-9]" "$DIR/launcher.log")
anomaly "$crashes" "nodes crashed or stopped on an error (launcher.log)"
anomaly $((FULL_FILLS - FULL_RESUMED)) "disk_full: member not resumed within 30 s (nemesis.log)"

wait_until 60 "all nodes converged (same commit, all applied)" converged
upto=$(min_commit)
ctl down >/dev/null || jfail "down"
INSTALLS=$(cat "$DIR"/node*.log | grep -c "installed snapshot index=")
COMPACTIONS=$(cat "$DIR"/node*.log | grep -c "compacted point=")
compare_logs "$upto"
compare_kv
# The kv table holds what the final reads returned.
FIRST=$(members | cut -d' ' -f1)
for r in $(seq "$ROUNDS"); do
    while read -r key value; do
        got=$(sqlite3 -readonly "$DIR/node$FIRST.db" "SELECT value FROM kv WHERE key = '$key'")
        [ "$value" = "-" ] && value=""
        [ "$got" = "$value" ] || anomaly 1 "node$FIRST kv $key = '$got', final read '$value'"
    done <"$DIR/final-r$r.txt"
done

# The audit of acknowledged writes, on every member's kv table.
python3 "$(dirname "$0")/soak_audit.py" "$DIR" "$(members | tr ' ' ,)" >"$DIR/audit.txt"
[ $? = 0 ] || jfail "the audit script failed ($DIR/audit.txt)"
grep -E "^node" "$DIR/audit.txt" | head -20 >&2
read -r _ OPS _ ANSWERED _ UNKNOWN _ PUT _ GET _ DEL _ CAS < <(grep "^ops " "$DIR/audit.txt")
read -r _ ACKED _ LOST < <(grep "^acked " "$DIR/audit.txt")

faults=0
line=""
for k in $(printf '%s\n' "${!N_FAULT[@]}" | sort); do
    faults=$((faults + N_FAULT[$k]))
    line="$line $k ${N_FAULT[$k]},"
done
echo "soak: $((($(now_ms) - T0) / 1000)) s, seed $SEED, $N nodes (${UP_ARGS:-default options})"
EXPIRED=$(cat "$DIR"/linclient-r*.log |
    sed -n 's/.* \([0-9]*\) of them session expired.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
echo "  ops: $OPS in $ROUNDS rounds ($ANSWERED answered, $UNKNOWN unknown" \
    "($EXPIRED session expired);" \
    "put $PUT get $GET del $DEL cas $CAS); checker ${CHECK_MS} ms"
echo "  faults: $faults:${line%,}"
if [ "$FULL_FILLS" -gt 0 ]; then
    echo "  disk_full: fills of node $FULL_ID's tmpfs: $FULL_FILLS; status showed" \
        "it full in $FULL_SEEN; resumed in $FULL_RESUMED (slowest ${FULL_MAX_MS} ms" \
        "after the space returned)"
fi
for k in "${!N_SKIPPED[@]}"; do
    echo "  skipped: $k (drawn ${N_SKIPPED[$k]} times): ${SKIP_WHY[$k]}"
done
echo "  compactions $COMPACTIONS, snapshots installed $INSTALLS"
REPORTED=$(cat "$DIR"/node*.log | grep -c "lost entries it acknowledged")
echo "  members now: $(members); replace refused or failed: $N_REFUSED;" \
    "leaders' lost-entry reports: $REPORTED"
echo "  anomalies: $ANOMALIES"
for w in "${WHY[@]}"; do
    echo "    $w"
done
echo "  acknowledged writes: $ACKED, lost: $LOST"
[ "$ANOMALIES" = 0 ] && [ "$LOST" = 0 ] || jfail "$ANOMALIES anomalies, $LOST acknowledged writes lost"
echo "ok"
