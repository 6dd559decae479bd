#!/usr/bin/env bash
# Issue 16, bounded sessions: with --max-sessions 4, every member keeps at
# most 4 sessions and at most 4 eviction records, the same ones on every
# member (eviction is a function of the log), while one-shot puts (a new
# session each) and a 16-client bench (long-lived sessions that keep being
# evicted) go on working; bench reports expired sessions as errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snap_lib.sh"

up_detached 25400 -n 3 --max-sessions 4
wait_until 10 "a leader" has_one_leader
for i in 1 2 3 4 5 6 7 8; do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
[ "$(ctl get k8)" = "v8" ] || fail "get k8"
ctl bench -c 16 --duration 2 --keys 100 --size 16 >"$DIR/bench.txt" 2>&1 ||
    fail "bench: $(tail -1 "$DIR/bench.txt")"
grep -q "session expired" "$DIR/bench.txt" || fail "bench shows no session-expired count"
ctl put after bench >/dev/null || fail "put after bench"
# sessions ID: "live|evicted" row counts of the member's tables.
sessions() {
    sqlite3 -readonly "$DIR/node$1.db" \
        "SELECT (SELECT count(*) FROM sessions) || '|' ||
                (SELECT count(*) FROM sessions_evicted)"
}
# session_rows ID: the member's sessions and eviction records.
session_rows() {
    sqlite3 -readonly "$DIR/node$1.db" \
        "SELECT client_id, seq, last_index FROM sessions ORDER BY client_id;
         SELECT client_id, idx FROM sessions_evicted ORDER BY client_id" |
        md5sum | cut -d' ' -f1
}
same_sessions() {
    local ref
    ref=$(session_rows 1)
    [ "$(session_rows 2)" = "$ref" ] && [ "$(session_rows 3)" = "$ref" ]
}
wait_until 20 "identical kv tables" kv_same 1 2 3
wait_until 20 "identical session tables" same_sessions
for id in 1 2 3; do
    counts=$(sessions "$id")
    live=${counts%|*}
    evicted=${counts#*|}
    [ "$live" -le 4 ] || fail "node $id keeps $live sessions (limit 4)"
    [ "$evicted" -le 4 ] || fail "node $id keeps $evicted eviction records"
    [ "$live" -ge 1 ] || fail "node $id has no session"
done
echo "sessions per member: $(sessions 1) (live|evicted); bench: $(grep "^errors" "$DIR/bench.txt")"
echo "ok"
