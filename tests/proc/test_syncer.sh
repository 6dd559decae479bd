#!/usr/bin/env bash
# Each raftnode has one raftnode-sync child (node/syncer.c). If that child
# dies, its node stops (fail-stop, with a one-line reason in its log) rather
# than acknowledge anything unsynced; the others elect a leader and keep
# every acknowledged write. A clean stop reaps every child.
. "$(dirname "$0")/lib.sh"

node_alive() {
    [ "$(status_py "by_id[$1]['alive']")" = "True" ]
}
node_dead() {
    [ "$(status_py "by_id[$1]['alive']")" = "False" ]
}

up_detached 22200 -n 3
wait_until 10 "a leader" has_one_leader
children=""
for i in 1 2 3; do
    pid=$(cat "$DIR/node$i.pid")
    child=$(pgrep -P "$pid" -x raftnode-sync)
    [ -n "$child" ] || fail "node $i has no raftnode-sync child"
    children="$children $child"
done
for i in $(seq 1 5); do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
L=$(leader_id)
lpid=$(cat "$DIR/node$L.pid")
kill -9 "$(pgrep -P "$lpid" -x raftnode-sync)" || fail "kill the syncer"
# The next write makes the leader ask its syncer: it must stop.
ctl put after "x" --timeout 5000 >/dev/null 2>&1
wait_until 10 "node $L to stop" node_dead "$L"
grep -q "sync failed: the syncer process is gone" "$DIR/node$L.log" ||
    fail "node $L log does not say why it stopped"
wait_until 10 "a new leader" has_new_leader "$L"
ctl put k6 v6 --timeout 5000 >/dev/null || fail "put after the failover"
for i in $(seq 1 6); do
    got=$(ctl get "k$i") || fail "get k$i"
    [ "$got" = "v$i" ] || fail "k$i = '$got'"
done
ctl start "$L" >/dev/null || fail "start $L again"
wait_until 10 "node $L back" node_alive "$L"
ctl down >/dev/null || fail "down"
for c in $children; do
    if kill -0 "$c" 2>/dev/null && [ "$(cat /proc/$c/stat 2>/dev/null | awk '{print $3}')" != "Z" ]; then
        fail "syncer $c still running after down"
    fi
done
echo "ok"
