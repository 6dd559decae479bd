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
# keeps in step. disk_full is a hook that reports itself unavailable.
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
heal:3 disk_full:0 truncated_wal:1 member_change:1}
RANDOM=$SEED
MAX_DOWN=$(((N - 1) / 2)) # Killed or paused at once: a majority stays.
NLOG="$DIR/nemesis.log"
CLOG="$DIR/nemesis-raftctl.log"
echo "soak: seed $SEED (repeat with SOAK_SEED=$SEED), ${RUN_S}s, $N nodes," \
    "dir $DIR"

# ---------------------------------------------------------------- faults
declare -A N_FAULT=()   # Faults injected, by kind.
declare -A N_SKIPPED=() # Draws of a kind that could not run (hooks).
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

# unavailable KIND WHY: a hook whose fault is not built yet.
unavailable() {
    if [ -z "${N_SKIPPED[$1]:-}" ]; then
        echo "soak: fault $1 not available yet ($2); skipped" >&2
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
fault_disk_full() {
    # Fill a member's file system (a small loop mount or tmpfs holding its
    # nodeN.db) and free it again later: needs ENOSPC handling (item 5).
    unavailable disk_full "needs the full-disk handling of issue 17 item 5"
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
    db="$DIR/node$f.db"
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
    for id in $DOWN; do ids+=("$id"); done
    if [ ${#ids[@]} = 0 ]; then
        id=$(random_up)
        [ -n "$id" ] && [ "$id" != "$l" ] && ids+=("$id")
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
for k in "${!N_SKIPPED[@]}"; do
    echo "  not available yet: $k (drawn ${N_SKIPPED[$k]} times)"
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
