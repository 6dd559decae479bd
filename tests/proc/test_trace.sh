#!/usr/bin/env bash
# The message trace (docs/TRACE.md) on a 3-member cluster: nobody
# subscribed, no member traces (no viewer in status --drops, no "message
# trace on" in any log); `raftctl trace --json` then holds a lease on every
# member and, across a leader kill, prints the shared "msg" lines: pre-votes,
# votes granted in the new term, appends of the new leader and their
# successful replies, with sane fields and non-decreasing "t"; once it
# ends, the leases end. `watch --dump --messages` shows the messages pane;
# `watch --messages --record` records them, and `replay` reads them back.
. "$(dirname "$0")/lib.sh"

up_detached 25400 --nodes 3
wait_until 10 "a leader" has_one_leader
OLD=$(leader_id)
OLD_TERM=$(status_py "by_id[$OLD]['term']")

# trace_viewers of every live member, as one line ("0 0 0").
viewers() {
    ctl status --drops --json 2>/dev/null | python3 -c "
import json, sys
print(' '.join(str(n['trace_viewers']) for n in json.load(sys.stdin) if n['alive']))"
}
[ "$(viewers)" = "0 0 0" ] || fail "viewers before any subscription: $(viewers)"
if grep -q "message trace on" "$DIR"/node*.log; then
    fail "a member traced with nobody subscribed"
fi

"$RAFTCTL" -d "$DIR" trace --json --for 50 >"$DIR/trace.jsonl" 2>"$DIR/trace.err" &
TRACE_PID=$!
trap 'kill "$TRACE_PID" 2>/dev/null; proc_cleanup' EXIT
has_appends() { grep -q '"type":"append"' "$DIR/trace.jsonl"; }
wait_until 10 "append messages in the trace" has_appends
all_viewing() { [ "$(viewers)" = "1 1 1" ]; }
wait_until 10 "one viewer on every member" all_viewing

ctl kill "$OLD" >/dev/null || fail "kill $OLD"
wait_until 15 "a new leader" has_new_leader "$OLD"
NEW=$(leader_id)
NEW_TERM=$(status_py "by_id[$NEW]['term']")
new_term_traffic() {
    python3 - "$DIR/trace.jsonl" "$NEW" "$NEW_TERM" <<'EOF'
import json, sys
path, new, term = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
msgs = [json.loads(l) for l in open(path) if '"k":"msg"' in l]
votes = [m for m in msgs if m["type"] == "vote" and m["from"] == new and m["term"] == term]
granted = [m for m in msgs if m["type"] == "vote_reply" and m["to"] == new and m["term"] == term and m["ok"]]
appends = [m for m in msgs if m["type"] == "append" and m["from"] == new and m["term"] == term]
acks = [m for m in msgs if m["type"] == "append_reply" and m["to"] == new and m["term"] == term and m["ok"]]
sys.exit(0 if votes and granted and appends and acks else 1)
EOF
}
wait_until 10 "votes and appends of term $NEW_TERM in the trace" new_term_traffic
kill -TERM "$TRACE_PID"
wait "$TRACE_PID" || fail "trace exited with $? ($(cat "$DIR/trace.err"))"

python3 - "$DIR/trace.jsonl" "$OLD" "$OLD_TERM" "$NEW" "$NEW_TERM" <<'EOF' || fail "trace lines"
import json, sys
path = sys.argv[1]
old, old_term, new, new_term = map(int, sys.argv[2:])
lines = [json.loads(l) for l in open(path)]
assert lines[0]["k"] == "meta" and lines[0]["t"] == 0, lines[0]
assert [m["id"] for m in lines[0]["members"]] == [1, 2, 3], lines[0]
kinds = {"vote", "prevote", "vote_reply", "prevote_reply", "append",
         "append_reply", "snapshot", "snapshot_reply", "timeout_now",
         "read_index", "read_index_reply"}
last_t = 0
msgs = []
for l in lines[1:]:
    assert l["k"] in ("msg", "trace_dropped"), l
    assert l["t"] >= last_t, ("t went back", l, last_t)
    last_t = l["t"]
    if l["k"] != "msg":
        continue
    msgs.append(l)
    assert l["type"] in kinds, l
    assert l["from"] in (1, 2, 3) and l["to"] in (1, 2, 3), l
    assert l["from"] != l["to"], l
    assert l["bytes"] > 0 and l["n"] >= 0 and l["index"] >= 0, l
    assert l["term"] >= old_term, l
    # "ok" on replies only (success or granted).
    assert isinstance(l.get("ok"), bool) == l["type"].endswith("_reply"), l
    assert l.get("coalesced", 1) >= 1, l
# The old leader sent nothing after its death: only its old term.
assert all(m["term"] == old_term for m in msgs if m["from"] == old), "old leader"
votes = [m for m in msgs if m["type"] == "vote" and m["from"] == new and m["term"] == new_term]
assert all(v["index"] >= 1 for v in votes), votes  # lastLogIndex: the no-op
prevotes = [m for m in msgs if m["type"] == "prevote" and m["term"] == new_term]
assert prevotes, "no pre-vote for the new term"
# An append reply never exceeds what the leader had sent ("index" = match).
appends = [m for m in msgs if m["type"] == "append" and m["term"] == new_term]
top = max(m["index"] + m["n"] for m in appends)
assert all(m["index"] <= top for m in msgs if m["type"] == "append_reply" and m["ok"] and m["term"] == new_term)
print("ok: %d messages, %d votes, %d appends in term %d" % (len(msgs), len(votes), len(appends), new_term))
EOF

# The trace ended its leases (lease 0 on exit, before the 3 s lease would
# run out): nobody traces any more.
no_viewer() { [ "$(viewers)" = "0 0" ]; }
wait_until 10 "no viewer after trace ended" no_viewer
grep -q "message trace off" "$DIR/node$NEW.log" || fail "no 'trace off' line"

ctl watch --dump --messages >"$DIR/dump.txt" 2>&1 || fail "watch --dump --messages"
grep -q -- '--- messages, newest first' "$DIR/dump.txt" || fail "no messages pane"
grep -Eq "^ [0-9:.]{12} $NEW->[0-9]+ (heartbeat|append)" "$DIR/dump.txt" ||
    fail "no message line from the leader in the pane: $(cat "$DIR/dump.txt")"
# watch --messages --record: the messages in the recording too, as lines
# the replay reader accepts (t never going back), and as plain msg lines.
"$RAFTCTL" -d "$DIR" watch --messages --record "$DIR/rec.jsonl" \
    >"$DIR/plain.txt" 2>&1 </dev/null &
WATCH_PID=$!
trap 'kill "$WATCH_PID" "$TRACE_PID" 2>/dev/null; proc_cleanup' EXIT
recorded_msgs() { grep -q '"k":"msg"' "$DIR/rec.jsonl" 2>/dev/null; }
wait_until 10 "msg lines in the recording" recorded_msgs
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || fail "watch --record exited with $?"
grep -Eq "^[0-9:.]{12} msg $NEW->[0-9]+ (heartbeat|append)" "$DIR/plain.txt" ||
    fail "no plain msg line from the leader"
ctl replay "$DIR/rec.jsonl" --dump >"$DIR/replay.txt" 2>&1 ||
    fail "replay --dump: $(cat "$DIR/replay.txt")"
grep -Eq "^end .* msgs [1-9][0-9]* malformed 0" "$DIR/replay.txt" ||
    fail "replay of the recording: $(tail -2 "$DIR/replay.txt")"
echo "ok: trace, watch --messages, watch --record with messages"
