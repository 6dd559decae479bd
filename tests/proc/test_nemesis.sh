#!/usr/bin/env bash
# Jepsen-style nemesis: 5 nodes, 8 concurrent clients (linclient) doing
# put/get/cas/del on 5 keys with unique values for ~30 s while a nemesis
# SIGKILLs and restarts nodes (the leader too), pauses and resumes them
# (SIGSTOP/SIGCONT), partitions random minorities, isolates the leader,
# turns netem loss, duplication and delay on and off, slows one node's
# disk (every persist stalls 50-400 ms), and now and then crashes every
# node at once (SIGKILL, a power failure) and restarts them all. Then it heals, restarts everything and checks: the whole
# history is linearizable (lincheck, final reads included, so no
# acknowledged write is missing), every node's committed log is identical up
# to the smallest commit index, and the kv tables agree with the final reads.
# The schedule comes from NEMESIS_SEED (printed; set it to repeat a run;
# timing still varies). NEMESIS_SECONDS (30), NEMESIS_GAP (3: faults come
# every 0..GAP s) and NEMESIS_TIMEOUT_MS (2000: client request timeout)
# tune a soak; NEMESIS_UP_ARGS adds options to 'raftctl up' (e.g.
# "--heartbeat 10 --election 40" for many more elections). A failing run
# keeps its directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

SEED=${NEMESIS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
SECONDS_RUN=${NEMESIS_SECONDS:-30}
GAP=${NEMESIS_GAP:-3}
TIMEOUT_MS=${NEMESIS_TIMEOUT_MS:-2000}
RANDOM=$SEED
echo "nemesis: seed $SEED (repeat with NEMESIS_SEED=$SEED), ${SECONDS_RUN}s, dir $DIR"
NLOG="$DIR/nemesis.log"
CLOG="$DIR/nemesis-raftctl.log"
HIST="$DIR/history.txt"
LC_PID=""

# shellcheck disable=SC2086 # NEMESIS_UP_ARGS is a list of options.
up_detached "${NEMESIS_PORT:-24100}" ${NEMESIS_UP_ARGS:-}
wait_until 10 "a leader" has_one_leader

"$BIN/linclient" --config "$DIR/cluster.conf" --out "$HIST" --clients 8 \
    --keys 5 --duration "$SECONDS_RUN" --timeout "$TIMEOUT_MS" --seed "$SEED" \
    --prefix n 2>"$DIR/linclient.log" &
LC_PID=$!
# Stop the client too when the test ends early.
trap 'if [ -n "$LC_PID" ]; then kill "$LC_PID" 2>/dev/null; fi; proc_cleanup' EXIT

DOWN=""          # Ids of the nodes the nemesis killed, space separated.
PAUSED=""        # Ids of the nodes it stopped with SIGSTOP.
N_FAULTS=0

nem() {
    local t
    t=$(( $(now_ms) - T0 ))
    echo "[$t ms] $*" >>"$NLOG"
    N_FAULTS=$((N_FAULTS + 1))
}

# Nodes killed or paused: at most 2, so a majority can come back.
n_down() {
    echo $DOWN $PAUSED | wc -w
}

# A random member that is up and running, or nothing.
random_up() {
    local ups=() id
    for id in 1 2 3 4 5; do
        case " $DOWN $PAUSED " in *" $id "*) ;; *) ups+=("$id") ;; esac
    done
    [ ${#ups[@]} -gt 0 ] && echo "${ups[$(rand ${#ups[@]})]}"
}

do_kill() {
    local id=$1
    [ -n "$id" ] || return 0
    [ "$(n_down)" -lt 2 ] || return 0
    ctl kill "$id" >>"$CLOG" 2>&1 && DOWN="$DOWN $id" && nem "kill -9 node $id"
}

do_pause() {
    local id=$1
    [ -n "$id" ] || return 0
    [ "$(n_down)" -lt 2 ] || return 0
    ctl kill "$id" --signal STOP >>"$CLOG" 2>&1 && PAUSED="$PAUSED $id" &&
        nem "pause (SIGSTOP) node $id"
}

# Restarts a killed node or resumes a paused one.
do_start_one() {
    local ids=($DOWN $PAUSED) id
    [ ${#ids[@]} -gt 0 ] || return 0
    id=${ids[$(rand ${#ids[@]})]}
    case " $PAUSED " in
    *" $id "*)
        ctl kill "$id" --signal CONT >>"$CLOG" 2>&1
        PAUSED=$(echo " $PAUSED " | sed "s/ $id / /" | xargs)
        nem "resume (SIGCONT) node $id"
        return 0
        ;;
    esac
    ctl start "$id" >>"$CLOG" 2>&1 || echo "start $id failed" >>"$CLOG"
    DOWN=$(echo " $DOWN " | sed "s/ $id / /" | xargs)
    nem "start node $id"
}

# Splits the members into a random minority (1 or 2 nodes) and the rest,
# or isolates the given node.
do_partition() {
    local minority=${1:-} rest="" id size
    if [ -z "$minority" ]; then
        minority=$(( $(rand 5) + 1 ))
        if [ "$(rand 2)" = 1 ]; then
            minority="$minority,$(( (minority + $(rand 4)) % 5 + 1 ))"
        fi
    fi
    for id in 1 2 3 4 5; do
        case ",$minority," in *",$id,"*) ;; *) rest="${rest:+$rest,}$id" ;; esac
    done
    ctl partition "$minority" "$rest" >>"$CLOG" 2>&1
    nem "partition $minority | $rest"
}

do_netem() {
    local loss dup delay jitter node=""
    loss=0.$(printf '%02d' $(( $(rand 30) + 5 )))
    dup=0.$(printf '%02d' $(rand 10))
    delay=$(rand 30)
    jitter=$(rand 20)
    [ "$(rand 2)" = 0 ] && node="--node $(( $(rand 5) + 1 ))"
    ctl netem --loss "$loss" --dup "$dup" --delay "$delay" --jitter "$jitter" \
        $node >>"$CLOG" 2>&1
    nem "netem loss=$loss dup=$dup delay=${delay}ms jitter=${jitter}ms ${node:-all}"
}

do_disk() {
    local id ms
    id=$(random_up)
    [ -n "$id" ] || return 0
    ms=$(( 50 + $(rand 351) ))
    ctl netem --disk-delay "$ms" --node "$id" >>"$CLOG" 2>&1
    nem "disk-delay ${ms}ms node $id"
}

# Power failure: SIGKILL every node at once, then start them all again.
do_crash_all() {
    local id pids=()
    for id in 1 2 3 4 5; do
        case " $DOWN " in
        *" $id "*) ;;
        *)
            ctl kill "$id" >>"$CLOG" 2>&1 &
            pids+=($!)
            ;;
        esac
    done
    wait "${pids[@]}"
    nem "crash all (kill -9 every node)"
    PAUSED=""
    for id in 1 2 3 4 5; do
        ctl start "$id" >>"$CLOG" 2>&1 || echo "start $id failed" >>"$CLOG"
    done
    DOWN=""
    nem "start all"
}

do_heal() {
    ctl heal >>"$CLOG" 2>&1
    nem "heal"
}

T0=$(now_ms)
END=$((T0 + (SECONDS_RUN - 3) * 1000))
while [ "$(now_ms)" -lt "$END" ]; do
    case $(rand 13) in
    0) do_kill "$(random_up)" ;;
    1) do_kill "$(leader_id)" ;;
    2 | 3) do_start_one ;;
    4) do_partition ;;
    5) l=$(leader_id); [ -n "$l" ] && do_partition "$l" ;;
    6) do_netem ;;
    7 | 8) do_heal ;;
    9) do_pause "$(random_up)" ;;
    10) do_pause "$(leader_id)" ;;
    11) do_disk ;;
    12) [ "$(rand 3)" = 0 ] && do_crash_all ;;
    esac
    sleep "$(rand "$GAP").$(rand 10)"
done

# Heal, resume and restart everything; the clients finish on a healthy
# cluster.
for id in $PAUSED; do
    ctl kill "$id" --signal CONT >>"$CLOG" 2>&1 || jfail "resume $id after the nemesis"
done
PAUSED=""
heal_all() {
    ctl heal >>"$CLOG" 2>&1 # Repeated: a node inside a disk stall is deaf.
}
wait_until 20 "heal applied on every running node" heal_all
for id in $DOWN; do
    ctl start "$id" >>"$CLOG" 2>&1 || jfail "start $id after the nemesis"
done
DOWN=""
all_up_one_leader() {
    [ "$(status_py "len(alive) == len(d) and len(leaders) == 1")" = True ]
}
wait_until 20 "every node up with one leader" all_up_one_leader
wait "$LC_PID"
rc=$?
LC_PID=""
cat "$DIR/linclient.log"
[ "$rc" = 0 ] || jfail "linclient exited $rc (anomalous answers, see linclient.log)"

# Final reads with a long timeout: every acknowledged write must be there.
"$BIN/linclient" --config "$DIR/cluster.conf" --out "$HIST" --keys 5 \
    --final --timeout 15000 --prefix n >"$DIR/final.txt" 2>>"$DIR/linclient.log" ||
    jfail "final reads failed: $(tail -1 "$DIR/linclient.log")"
echo "nemesis: $N_FAULTS faults injected:"
sed 's/^/    /' "$NLOG"

T1=$(now_ms)
"$BIN/lincheck" "$HIST" >"$DIR/lincheck.txt" 2>&1
rc=$?
cat "$DIR/lincheck.txt"
echo "nemesis: checker took $(( $(now_ms) - T1 )) ms"
[ "$rc" = 0 ] || jfail "history $HIST is not linearizable (lincheck exit $rc)"

# Only the nemesis may have stopped a node: no abort, no fail-stop exit.
if grep -E "died signal=(6|11|7|8)|exited status=[1-9]" "$DIR/launcher.log" >&2; then
    jfail "a node crashed or stopped on an error during the run (launcher.log, node*.log)"
fi
wait_until 20 "all nodes converged (same commit, all applied)" converged
upto=$(min_commit)
ctl down >/dev/null || jfail "down"
compare_logs "$upto"
compare_kv
# The kv table holds what the final reads returned.
while read -r key value; do
    got=$(sqlite3 -readonly "$DIR/node1.db" "SELECT value FROM kv WHERE key = '$key'")
    [ "$value" = "-" ] && value=""
    [ "$got" = "$value" ] || jfail "node1 kv $key = '$got', final read '$value'"
done <"$DIR/final.txt"
echo "ok"
