#!/usr/bin/env bash
# Issue 16, bounded sessions (docs/SESSIONS.md): sessions are registered
# through the log and evicted only when a register entry is applied, with
# the limit the entry carries. With --max-sessions 4: a retry of an applied
# write in a live session is answered from the session and not run again;
# once the session is evicted, a retry of it (RAFTCTL_RESUME, raftctl's
# test hook) is answered "session expired" (exit 3) and not run; every
# member keeps at most 4 sessions, the same ones; a 3-client bench
# registers 3 sessions, and a 16-client one is refused with one line
# naming the limit (exit 2); after down and up, the evicted session is
# still expired, a live one still deduplicates, and a leftover table of the
# old layout (sessions_evicted) is dropped at open.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snap_lib.sh"

up_detached 23600 -n 3 --max-sessions 4
wait_until 10 "a leader" has_one_leader

# last_session: the id of the newest session, the index of the last
# register entry in member 1's log (the log is written before any answer).
last_session() {
    sqlite3 -readonly "$DIR/node1.db" \
        "SELECT max(idx) FROM log WHERE op = 'noop'
           AND CAST(data AS TEXT) LIKE 'session max=%'"
}
# session_count ID: the member's sessions.
session_count() {
    sqlite3 -readonly "$DIR/node$1.db" "SELECT count(*) FROM sessions"
}
session_rows() {
    sqlite3 -readonly "$DIR/node$1.db" \
        "SELECT client_id, seq, status, last_index FROM sessions
         ORDER BY client_id" | md5sum | cut -d' ' -f1
}
same_sessions() {
    local ref
    ref=$(session_rows 1)
    [ "$(session_rows 2)" = "$ref" ] && [ "$(session_rows 3)" = "$ref" ]
}
# resume ID SEQ ARGS...: raftctl ARGS in session ID with seq SEQ.
resume() {
    local id=$1 seq=$2
    shift 2
    RAFTCTL_RESUME="$id:$seq" "$RAFTCTL" -d "$DIR" "$@"
}

ctl put a 1 >/dev/null || fail "put a"
A=$(last_session)
[ -n "$A" ] || fail "no register entry in the log"
# The same (session, seq) again: answered from the session, not run again.
out=$(resume "$A" 1 put a OTHER) || fail "retry of a's put in a live session"
[ "$out" = "OK" ] || fail "retry answered '$out'"
[ "$(ctl get a)" = "1" ] || fail "a retried put ran twice: a=$(ctl get a)"

# Eight one-shot puts register eight sessions: a's is evicted (limit 4).
for i in 1 2 3 4 5 6 7 8; do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
resume "$A" 1 put a AGAIN >/dev/null 2>"$DIR/expired.txt"
rc=$?
resume "$A" 2 put a NEW >/dev/null 2>>"$DIR/expired.txt"
rc2=$?
[ "$rc" = 3 ] && [ "$rc2" = 3 ] || fail "evicted session's retry: exit $rc, $rc2 (want 3)"
grep -q "session expired" "$DIR/expired.txt" || fail "no 'session expired': $(cat "$DIR/expired.txt")"
[ "$(ctl get a)" = "1" ] || fail "an expired session's write ran: a=$(ctl get a)"

# Fewer clients than sessions: one registration each, no expiry.
ctl bench -c 3 --duration 1 --keys 100 --size 16 >"$DIR/bench3.txt" 2>&1 ||
    fail "bench -c 3: $(tail -1 "$DIR/bench3.txt")"
grep -q "^sessions    3 registered by 3 clients$" "$DIR/bench3.txt" ||
    fail "bench -c 3: $(grep -E "^(errors|sessions)" "$DIR/bench3.txt")"
# More clients than sessions would evict each other and stall: bench
# refuses at once, naming the limit, and sends nothing.
ctl bench -c 16 --duration 2 --keys 100 --size 16 >"$DIR/bench.txt" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "bench -c 16: exit $rc (want 2): $(cat "$DIR/bench.txt")"
[ "$(wc -l <"$DIR/bench.txt")" = 1 ] || fail "bench -c 16: not one line: $(cat "$DIR/bench.txt")"
grep -q "16 clients need 16 sessions, but the cluster keeps 4 .*run at most 4 clients" \
    "$DIR/bench.txt" || fail "bench -c 16: $(cat "$DIR/bench.txt")"
ctl put last v >/dev/null || fail "put after bench"
B=$(last_session)

wait_until 20 "identical kv tables" kv_same 1 2 3
wait_until 20 "identical session tables" same_sessions
for id in 1 2 3; do
    n=$(session_count "$id")
    [ "$n" -le 4 ] && [ "$n" -ge 1 ] || fail "node $id keeps $n sessions (limit 4)"
done
echo "sessions per member: $(session_count 1); bench -c 16: $(cat "$DIR/bench.txt")"

ctl down >/dev/null || fail "down"
# A leftover table of the earlier layout is dropped at open.
sqlite3 "$DIR/node1.db" \
    "CREATE TABLE sessions_evicted(client_id INTEGER PRIMARY KEY, idx INTEGER)" ||
    fail "cannot add the old table"
up_detached 23600
wait_until 10 "a leader" has_one_leader
old_table_gone() {
    [ "$(sqlite3 -readonly "$DIR/node1.db" \
        "SELECT count(*) FROM sqlite_master WHERE name = 'sessions_evicted'")" = 0 ]
}
wait_until 10 "the old table dropped" old_table_gone
resume "$A" 1 put a AFTER >/dev/null 2>&1
rc=$?
[ "$rc" = 3 ] || fail "after restart, the evicted session's retry: exit $rc (want 3)"
out=$(resume "$B" 1 put last OTHER) || fail "after restart, retry in a live session"
[ "$out" = "OK" ] || fail "after restart, retry answered '$out'"
[ "$(ctl get last)" = "v" ] || fail "after restart, a retried put ran twice"
[ "$(ctl get a)" = "1" ] || fail "after restart, a=$(ctl get a)"
for id in 1 2 3; do
    n=$(session_count "$id")
    [ "$n" -le 4 ] || fail "node $id keeps $n sessions after restart"
done
echo "ok"
