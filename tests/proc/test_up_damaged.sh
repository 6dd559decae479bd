#!/usr/bin/env bash
# Issue 17, one bad member never stops the rest: with one database missing,
# then one damaged, `up` starts the other two (exit 0, one line naming the
# member and the cause), they serve writes, launcher.log names the cause
# of the death, and `raftctl start` quotes the node's ERROR line. With two
# of three missing, `up` stops the one it started and exits 4.
. "$(dirname "$0")/lib.sh"

up_detached 22400 -n 3
wait_until 20 "a leader" has_one_leader
ctl put before v1 --timeout 10000 >/dev/null || fail "put before"
ctl down >/dev/null || fail "down"

# One database missing.
mv "$DIR/node2.db" "$DIR/node2.db.saved"
rm -f "$DIR"/node2.db-wal "$DIR"/node2.db-shm
ctl up --detach >"$DIR/up.out" 2>"$DIR/up.err"
rc=$?
LAUNCHER_PID=$(cat "$DIR/launcher.pid" 2>/dev/null)
[ "$rc" = 0 ] || fail "up with node 2 missing exited $rc: $(cat "$DIR/up.err")"
grep -q "node 2 failed to start.*no such database" "$DIR/up.err" ||
    fail "up did not name node 2 and its cause: $(cat "$DIR/up.err")"
[ "$(grep -c "failed to start" "$DIR/up.err")" = 1 ] || fail "$(cat "$DIR/up.err")"
grep -q "node 2 exited status=[0-9]*: ERROR .*no such database" "$DIR/launcher.log" ||
    fail "launcher.log lacks the cause of node 2's death"
wait_until 20 "a leader" has_one_leader
ctl put during v2 --timeout 10000 >/dev/null || fail "put with node 2 missing"
[ "$(ctl get before --timeout 10000)" = v1 ] || fail "get before"
ctl start 2 >"$DIR/start.out" 2>"$DIR/start.err"
rc=$?
[ "$rc" = 4 ] || fail "start 2 exited $rc"
grep -q "ERROR .*no such database" "$DIR/start.err" ||
    fail "start did not quote the ERROR line: $(cat "$DIR/start.err")"
ctl down >/dev/null || fail "down"

# One database damaged (its header overwritten).
mv "$DIR/node2.db.saved" "$DIR/node2.db"
python3 -c "
f = open('$DIR/node3.db', 'r+b'); f.write(b'this is not a database at all!!' * 4)"
ctl up --detach >"$DIR/up.out" 2>"$DIR/up.err"
rc=$?
LAUNCHER_PID=$(cat "$DIR/launcher.pid" 2>/dev/null)
[ "$rc" = 0 ] || fail "up with node 3 damaged exited $rc: $(cat "$DIR/up.err")"
grep -q "node 3 failed to start" "$DIR/up.err" || fail "$(cat "$DIR/up.err")"
wait_until 20 "a leader" has_one_leader
[ "$(ctl get during --timeout 10000)" = v2 ] || fail "get during"
ctl down >/dev/null || fail "down"

# Two of three missing: no quorum, exit 4, nothing left running.
rm -f "$DIR"/node2.db*
ctl up --detach >"$DIR/up.out" 2>"$DIR/up.err"
rc=$?
[ "$rc" = 4 ] || fail "up with no quorum exited $rc"
grep -q "fewer than a quorum" "$DIR/up.err" || fail "$(cat "$DIR/up.err")"
for f in "$DIR"/node*.pid "$DIR/launcher.pid"; do
    [ -e "$f" ] && fail "$f left behind"
done
[ -e "$DIR/node1.db" ] || fail "node 1's database was removed"
echo "ok"
