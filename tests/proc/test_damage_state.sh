#!/usr/bin/env bash
# Changed bytes in the raft_state row (the term) of one member and in a
# sessions row of another (the sqlite3 shell, while each is stopped; the
# rows keep their old crc): started again, each finds its row while
# loading, logs one ERROR line naming the table, sets its database aside
# and exits with status 5; status shows both damaged and the other three
# keep serving (docs/DAMAGE.md). A 5-member cluster, so three remain.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 shell is not installed (make deps)"
up_detached 23800 --nodes 5
wait_until 10 "a leader" has_one_leader
for i in $(seq 1 10); do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
q() { sqlite3 -cmd ".timeout 2000" "$DIR/node$1.db" "$2" 2>/dev/null; }
l=$(leader_id)
followers=$(status_py "' '.join(str(n['id']) for n in alive if n['role'] != 'leader')")
a=$(echo "$followers" | cut -d' ' -f1)
b=$(echo "$followers" | cut -d' ' -f2)
[ -n "$a" ] && [ -n "$b" ] || fail "two followers of leader $l: '$followers'"
applied_all() { [ "$(q "$b" "SELECT count(*) FROM sessions")" -ge 1 ]; }
wait_until 20 "a session row on node $b" applied_all

# a: a lower term (a lying disk would let it vote twice in a term).
ctl kill "$a" >/dev/null || fail "kill $a"
term=$(q "$a" "SELECT current_term FROM raft_state")
[ "${term:-0}" -ge 1 ] || fail "node $a term '$term'"
q "$a" "UPDATE raft_state SET current_term = $((term - 1))"
# b: a session's seq moved back (a retried write would apply twice).
ctl kill "$b" >/dev/null || fail "kill $b"
client=$(q "$b" "SELECT client_id FROM sessions ORDER BY client_id LIMIT 1")
q "$b" "UPDATE sessions SET seq = seq + 1 WHERE client_id = $client"

ctl start "$a" >/dev/null 2>&1 # They exit at once: status says why.
ctl start "$b" >/dev/null 2>&1
both_damaged() {
    [ "$(status_py "by_id[$a]['role'] == 'damaged' and by_id[$b]['role'] == 'damaged'")" = True ]
}
wait_until 20 "nodes $a and $b shown damaged" both_damaged
for id in "$a" "$b"; do
    [ -f "$DIR/node$id.db.damaged" ] || fail "node$id.db.damaged missing"
    [ ! -e "$DIR/node$id.db" ] || fail "node$id.db still there"
    grep -q "node $id exited status=5 (damaged" "$DIR/launcher.log" ||
        fail "launcher.log does not say node $id is damaged"
done
n=$(grep -c "ERROR.*damaged: raft_state row 1 fails its checksum" "$DIR/node$a.log")
[ "$n" = 1 ] || fail "expected one ERROR line naming raft_state on node $a, got $n"
n=$(grep -c "ERROR.*damaged: sessions row $client fails its checksum" "$DIR/node$b.log")
[ "$n" = 1 ] || fail "expected one ERROR line naming sessions row $client on node $b, got $n"
serves_after_damage 1 5 10
echo "ok"
