#!/usr/bin/env bash
# With 3 of 5 nodes down nothing commits: put exits 3 (outcome unknown).
# Once a third node is back, writes succeed again.
. "$(dirname "$0")/lib.sh"

up_detached 21300
wait_until 10 "a leader" has_one_leader
ctl put k0 v0 >/dev/null || fail "first put"
for id in 1 2 3; do
    ctl kill "$id" >/dev/null || fail "kill $id"
done
err=$(ctl put k1 v1 --timeout 1000 2>&1 >/dev/null)
rc=$?
[ "$rc" = 3 ] || fail "put without majority exited $rc, want 3 ($err)"
echo "$err" | grep -q "outcome is unknown" || fail "message: $err"
ctl start 2 >/dev/null || fail "start 2"
ctl put k2 v2 --timeout 10000 >/dev/null || fail "put after node 2 came back"
[ "$(ctl get k2)" = v2 ] || fail "get k2"
echo "ok"
