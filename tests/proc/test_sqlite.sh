#!/usr/bin/env bash
# The sqlite3 shell reads a running node's database: the put is in the log
# table (op, key, value as text) and in kv, on the leader and a follower.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 shell is not installed (make deps)"
up_detached 21700
wait_until 10 "a leader" has_one_leader
ctl put greeting hello >/dev/null || fail "put"
leader=$(leader_id)
f=$(follower_id)
q() { sqlite3 -cmd ".timeout 2000" "$DIR/node$1.db" "$2" 2>/dev/null; }
for id in "$leader" "$f"; do
    in_log() { [ "$(q "$id" "SELECT op || '|' || key || '|' || value FROM log WHERE key = 'greeting'")" = "put|greeting|hello" ]; }
    in_kv() { [ "$(q "$id" "SELECT value FROM kv WHERE key = 'greeting'")" = hello ]; }
    wait_until 10 "node $id log row" in_log
    wait_until 10 "node $id kv row" in_kv
done
term=$(q "$leader" "SELECT current_term FROM raft_state")
[ -n "$term" ] && [ "$term" -ge 1 ] || fail "raft_state.current_term = '$term'"
echo "ok"
