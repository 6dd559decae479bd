#!/usr/bin/env bash
# Several hosts, as docs/HOSTS.md tells an operator: keys made with
# `raftctl keys`, a hand-written cluster.conf listing 127.0.0.1, .2 and .3
# (Linux routes all of 127/8 to lo) on the same port, the files copied to
# one directory per "host", each member started directly with
# `raftnode --id N --config FILE --db FILE --create` (no raftctl up, no
# launcher), and raftctl --config FILE run from a directory that holds no
# cluster. The leader is killed (by the pid this test started): a new one
# is elected, writes continue and reads see them. A fourth host joins with
# `raftctl --config FILE add --addr` and leaves with `remove`. Commands
# that act on a cluster directory's processes refuse --config with one
# line. Stops only its pids.
. "$(dirname "$0")/lib.sh"
BIN=$(cd "$(dirname "$RAFTCTL")" && pwd)
RAFTNODE="$BIN/raftnode"
RAFTCTL="$BIN/$(basename "$RAFTCTL")" # Absolute: the test leaves its cwd.

PORT=$(port 25100)
declare -A NODE_PID=()

hosts_cleanup() {
    stop_pids "${NODE_PID[@]}"
    proc_cleanup
}
trap hosts_cleanup EXIT

if ! python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.3', 0))" 2>/dev/null; then
    echo "SKIP: cannot bind 127.0.0.3 here (127/8 not all on lo)"
    exit 77
fi

# The operator's copy (keys and cluster.conf), and a directory with no
# cluster in it to run raftctl from.
OPS="$DIR/ops"
ELSEWHERE="$DIR/elsewhere"
mkdir -p "$ELSEWHERE" || fail "mkdir"
cd "$ELSEWHERE" || fail "cd"

# 1. Keys: made once, never overwritten.
"$RAFTCTL" keys "$OPS" >/dev/null || fail "raftctl keys"
for k in cluster client; do
    [ "$(stat -c %a "$OPS/$k.key")" = 600 ] || fail "$k.key is not 0600"
done
[ "$(stat -c %a "$OPS")" = 700 ] || fail "keys DIR is not 0700"
before=$(cat "$OPS/cluster.key")
"$RAFTCTL" keys "$OPS" 2>"$DIR/keys.err" && fail "keys overwrote existing keys"
grep -q "exists: not overwritten" "$DIR/keys.err" || fail "keys refusal: $(cat "$DIR/keys.err")"
[ "$(cat "$OPS/cluster.key")" = "$before" ] || fail "cluster.key changed"

# 2. cluster.conf by hand: one line per member, same port, three addresses.
{
    echo "# Three hosts, written by hand (docs/HOSTS.md)."
    echo "cluster 5eed0000000000a1"
    for i in 1 2 3; do echo "$i 127.0.0.$i:$PORT"; done
} >"$OPS/cluster.conf"

# 3. Each host gets cluster.conf, cluster.key, client.key, and runs one
# member from its own directory.
start_member() {
    local i=$1
    shift
    "$RAFTNODE" --id "$i" --config "$DIR/host$i/cluster.conf" \
        --db "$DIR/host$i/node$i.db" --log "$DIR/host$i/node$i.log" \
        --create "$@" >>"$DIR/host$i/node$i.out" 2>&1 &
    NODE_PID[$i]=$!
}
for i in 1 2 3; do
    mkdir -m 700 "$DIR/host$i" || fail "mkdir host$i"
    cp -p "$OPS/cluster.conf" "$OPS/cluster.key" "$OPS/client.key" "$DIR/host$i/" ||
        fail "copy to host$i"
    start_member "$i"
done

rctl() {
    "$RAFTCTL" --config "$OPS/cluster.conf" "$@"
}
# lib.sh's helpers read status through ctl: here through --config.
ctl() {
    rctl "$@"
}
fail() {
    echo "FAIL ($PROC_NAME): $*" >&2
    rctl status >&2 2>&1
    for f in "$DIR"/host*/node*.log; do
        echo "--- $f (tail):" >&2
        tail -5 "$f" >&2
    done
    exit 1
}

wait_until 20 "a leader among the three hosts" has_one_leader
rctl put greeting hello >/dev/null || fail "put through --config"
[ "$(rctl get greeting)" = hello ] || fail "get through --config"
# status --json: the documented keys, each live member's real pid.
for i in 1 2 3; do
    [ "$(status_py "by_id[$i]['pid']")" = "${NODE_PID[$i]}" ] ||
        fail "status pid of member $i is not ${NODE_PID[$i]}"
    [ "$(status_py "by_id[$i]['addr']")" = "127.0.0.$i:$PORT" ] ||
        fail "status addr of member $i"
done
rctl members --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert sorted(m['id'] for m in d['members']) == [1, 2, 3], d
assert all(m['role'] == 'voter' for m in d['members']), d
" || fail "members --json through --config"

rctl check >"$DIR/check.out" 2>&1 || fail "check through --config: $(cat "$DIR/check.out")"
rctl bench --duration 1 >"$DIR/bench.out" 2>&1 || fail "bench through --config: $(tail -1 "$DIR/bench.out")"

# Keys elsewhere: --key-dir.
mkdir -m 700 "$DIR/conf-only" "$DIR/keys-only" || fail "mkdir"
cp -p "$OPS/cluster.conf" "$DIR/conf-only/" && cp -p "$OPS/client.key" "$DIR/keys-only/" ||
    fail "copy"
[ "$("$RAFTCTL" --config "$DIR/conf-only/cluster.conf" --key-dir "$DIR/keys-only" get greeting)" = hello ] ||
    fail "get with --key-dir"
"$RAFTCTL" --config "$DIR/conf-only/cluster.conf" get greeting 2>"$DIR/nokey.err" &&
    fail "get without a key file succeeded"
grep -q "client.key" "$DIR/nokey.err" || fail "missing key not named: $(cat "$DIR/nokey.err")"

# Commands of a cluster directory's processes refuse --config (exit 2).
for cmd in "kill 1" "start 1" "down" "up" "watch" "replace 2"; do
    # shellcheck disable=SC2086
    rctl $cmd 2>"$DIR/refuse.err"
    rc=$?
    [ $rc = 2 ] || fail "'$cmd' with --config exited $rc, want 2"
    grep -q "needs the cluster directory" "$DIR/refuse.err" ||
        fail "'$cmd' refusal: $(cat "$DIR/refuse.err")"
done
kill -0 "${NODE_PID[1]}" || fail "'kill 1' with --config killed member 1"

# 4. The leader dies (kill -9 of the pid this test started).
old=$(leader_id)
[ -n "$old" ] || fail "no leader"
kill -9 "${NODE_PID[$old]}"
{ wait "${NODE_PID[$old]}"; } 2>/dev/null
unset "NODE_PID[$old]"
echo "hosts: killed leader $old"
wait_until 20 "a new leader after killing $old" has_new_leader "$old"
new=$(leader_id)
for k in 1 2 3 4 5; do
    rctl put "after$k" "v$k" >/dev/null || fail "put $k after the leader died"
done
for k in 1 2 3 4 5; do
    [ "$(rctl get "after$k")" = "v$k" ] || fail "get after$k"
done
[ "$(rctl get greeting)" = hello ] || fail "the write before the kill is gone"
[ "$(status_py "by_id[$old]['alive']")" = False ] || fail "member $old still alive"
echo "hosts: member $new leads; 5 writes and reads after the kill"

# The dead host comes back with its state (same command, no --create
# needed but harmless).
start_member "$old"
follows() {
    [ "$(status_py "by_id[$1]['role'] if by_id[$1]['alive'] else ''")" = follower ]
}
wait_until 20 "member $old back as a follower" follows "$old"

# 5. A fourth host joins (docs/HOSTS.md, "Add a host"): its line in the
# operator's cluster.conf, the files copied, started with --join, added
# by address (add takes the id the file lists there).
echo "4 127.0.0.4:$PORT" >>"$OPS/cluster.conf"
mkdir -m 700 "$DIR/host4" || fail "mkdir host4"
cp -p "$OPS/cluster.conf" "$OPS/cluster.key" "$OPS/client.key" "$DIR/host4/" || fail "copy"
start_member 4 --join
id=$(rctl add --addr "127.0.0.4:$PORT" 2>"$DIR/add.err" | tail -1)
[ "$id" = 4 ] || fail "add printed '$id', want 4 ($(cat "$DIR/add.err"))"
[ "$(grep -c "^4 127.0.0.4:$PORT\$" "$OPS/cluster.conf")" = 1 ] ||
    fail "--config's file does not list member 4 exactly once"
rctl members --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
voters = sorted(m['id'] for m in d['members'] if m['role'] == 'voter')
assert voters == [1, 2, 3, 4], d
" || fail "member 4 is not a voter"
rctl put joined yes >/dev/null || fail "put after the join"
applied_joined() {
    [ "$(sqlite3 -cmd ".timeout 2000" "$DIR/host4/node4.db" \
        "SELECT value FROM kv WHERE key='joined'" 2>/dev/null)" = yes ]
}
wait_until 20 "member 4 applied the write after its join" applied_joined
echo "hosts: member 4 on 127.0.0.4 joined as a voter"

# 6. It leaves again: remove through --config drops its line from the
# operator's file and says to stop it on its host (this test does).
rctl remove 4 >"$DIR/remove.out" 2>&1 || fail "remove 4: $(cat "$DIR/remove.out")"
grep -q "stop it on its host" "$DIR/remove.out" || fail "remove's line: $(cat "$DIR/remove.out")"
grep -q "^4 " "$OPS/cluster.conf" && fail "remove left member 4 in --config's file"
rctl members --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert sorted(m['id'] for m in d['members']) == [1, 2, 3], d
" || fail "member 4 still in the configuration"
stop_pids "${NODE_PID[4]}"
unset "NODE_PID[4]"
rctl put after-remove yes >/dev/null || fail "put after removing member 4"
echo "ok"
