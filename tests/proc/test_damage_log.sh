#!/usr/bin/env bash
# Changed bytes in one log row of a member's database (the sqlite3 shell,
# while it is stopped; the row keeps its old crc): started again, it finds
# the row while loading its log, logs one ERROR line naming the index, sets
# its database aside and exits with status 5, so it never sends the entry;
# status shows it as damaged and the others keep serving (docs/DAMAGE.md).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 shell is not installed (make deps)"
up_detached 22800
wait_until 10 "a leader" has_one_leader
for i in $(seq 1 10); do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
# The leader: its log is what would be replicated.
l=$(leader_id)
q() { sqlite3 -cmd ".timeout 2000" "$DIR/node$1.db" "$2" 2>/dev/null; }
ctl kill "$l" >/dev/null || fail "kill $l"
idx=$(q "$l" "SELECT idx FROM log WHERE key = 'k7'")
[ -n "$idx" ] || fail "no log row for k7 on node $l"
q "$l" "UPDATE log SET value = 'evil' WHERE idx = $idx"
wait_until 10 "a new leader" has_one_leader
ctl start "$l" >/dev/null 2>&1 # It exits at once: status says why.
is_damaged() { [ "$(status_py "by_id[$l]['role']")" = damaged ]; }
wait_until 20 "node $l shown damaged" is_damaged
[ -f "$DIR/node$l.db.damaged" ] || fail "node$l.db.damaged missing"
n=$(grep -c "ERROR.*damaged: log row $idx fails its checksum" "$DIR/node$l.log")
[ "$n" = 1 ] || fail "expected one ERROR line naming log row $idx, got $n"
grep -q "node $l exited status=5 (damaged" "$DIR/launcher.log" ||
    fail "launcher.log does not say node $l is damaged"
serves_after_damage 6 7 8
echo "ok"
