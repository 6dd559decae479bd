#!/usr/bin/env bash
# Changed bytes in one kv row of a follower's database (the sqlite3 shell,
# while it is stopped; the row keeps its old crc): no get ever returns the
# changed value, the member stops as damaged when it reads the row (here:
# applying a cas of that key), its database is set aside, status shows it
# as damaged, and the other two keep serving (docs/DAMAGE.md).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 shell is not installed (make deps)"
up_detached 22700
wait_until 10 "a leader" has_one_leader
for i in $(seq 1 10); do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
f=$(follower_id)
damage_kv_row "$f" k5 v5
ctl start "$f" >/dev/null || fail "start $f"

# Gets go to whoever leads; none may ever answer the changed bytes, also
# while the damaged member may be the one leading.
never_evil() {
    local got
    got=$(ctl get --timeout 1500 k5 2>/dev/null)
    [ "$got" != evil ] || fail "a get returned the damaged value"
}
for i in $(seq 1 12); do never_evil; done
leader=$(leader_id)
ctl kill "$leader" >/dev/null || fail "kill leader $leader"
for i in $(seq 1 6); do never_evil; done
ctl start "$leader" >/dev/null || fail "start $leader"
wait_until 10 "a leader" has_one_leader

# The cas is applied on every member: node $f reads k5 to apply it.
ctl cas k5 v5 v6 >/dev/null || fail "cas k5 v5 v6"
is_damaged() { [ "$(status_py "by_id[$f]['role']")" = damaged ]; }
wait_until 20 "node $f shown damaged" is_damaged
[ -f "$DIR/node$f.db.damaged" ] || fail "node$f.db.damaged missing"
[ ! -e "$DIR/node$f.db" ] || fail "node$f.db still in place"
n=$(grep -c "ERROR.*damaged: kv row of key 'k5'" "$DIR/node$f.log")
[ "$n" = 1 ] || fail "expected one ERROR line naming k5 in node$f.log, got $n"
grep -q "node $f exited status=5 (damaged" "$DIR/launcher.log" ||
    fail "launcher.log does not say node $f is damaged"
ctl status | grep -q "damaged" || fail "status table does not show damaged"
for i in $(seq 1 5); do
    got=$(ctl get k5) || fail "get k5 from the healthy two"
    [ "$got" = v6 ] || fail "k5 = '$got', want v6"
done
ctl put after damage >/dev/null || fail "a write after the damage"
echo "ok"
