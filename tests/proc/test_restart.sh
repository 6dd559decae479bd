#!/usr/bin/env bash
# Stopping and starting the whole cluster (down, up --detach) keeps every
# acknowledged write.
. "$(dirname "$0")/lib.sh"

up_detached 21400
wait_until 10 "a leader" has_one_leader
for i in $(seq 1 15); do
    ctl put "key$i" "value$i" >/dev/null || fail "put key$i"
done
ctl del key3 >/dev/null || fail "del key3"
ctl down >/dev/null || fail "down"
[ ! -e "$DIR/launcher.sock" ] || fail "launcher.sock left behind"
ls "$DIR"/node*.pid >/dev/null 2>&1 && fail "pid files left behind"
up_detached 21400
for i in $(seq 1 15); do
    if [ "$i" = 3 ]; then
        ctl get key3 >/dev/null 2>&1 && fail "deleted key3 came back"
        continue
    fi
    got=$(ctl get "key$i") || fail "get key$i after restart"
    [ "$got" = "value$i" ] || fail "key$i = '$got'"
done
echo "ok"
