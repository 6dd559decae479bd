#!/usr/bin/env bash
# When the launcher dies (kill -9), its nodes keep serving; `up` refuses to
# start over them, `start` says no launcher runs, and `down` stops the nodes
# from their pid files (checking /proc/PID/cmdline first).
. "$(dirname "$0")/lib.sh"

up_detached 22100 -n 3
wait_until 10 "a leader" has_one_leader
kill -9 "$LAUNCHER_PID"
launcher_gone() { ! kill -0 "$LAUNCHER_PID" 2>/dev/null; }
wait_until 10 "the launcher to die" launcher_gone
ctl put still serving >/dev/null || fail "put without a launcher"
out=$(ctl up --detach 2>&1)
[ $? = 4 ] || fail "up over orphan nodes did not exit 4: $out"
echo "$out" | grep -q "still running" || fail "up message: $out"
out=$(ctl start 1 2>&1)
[ $? = 4 ] || fail "start without a launcher did not exit 4"
echo "$out" | grep -q "no launcher" || fail "start message: $out"
pids=$(cat "$DIR"/node*.pid)
ctl down >/dev/null || fail "down without a launcher"
for pid in $pids; do
    gone() { ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q raftnode; }
    wait_until 10 "node pid $pid to exit" gone
done
ls "$DIR"/node*.pid >/dev/null 2>&1 && fail "pid files left behind"
up_detached 22100
[ "$(ctl get still)" = serving ] || fail "write lost across the launcher's death"
echo "ok"
