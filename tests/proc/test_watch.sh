#!/usr/bin/env bash
# raftctl watch in a pseudo-terminal: the dashboard shows the leader; k and
# the leader's id kill it, and a new leader appears on screen within a few
# seconds; t and a run raftctl transfer and add, whose outcomes reach the
# feed, and the added member gets a panel; m shows the messages pane and
# hides it; q quits and restores the terminal (tests/proc/watch_pty.py).
# Without a terminal, watch prints the event feed as plain lines.
. "$(dirname "$0")/lib.sh"

up_detached 24000
wait_until 10 "a leader" has_one_leader
python3 "$(dirname "$0")/watch_pty.py" "$RAFTCTL" "$DIR" "$DIR/screen.txt" ||
    fail "the dashboard test failed"
# Plain lines: the launcher replays its recent events, so the election of
# the new leader is among them.
"$RAFTCTL" -d "$DIR" watch >"$DIR/plain.txt" 2>&1 </dev/null &
WATCH_PID=$!
trap 'kill "$WATCH_PID" 2>/dev/null; proc_cleanup' EXIT
has_plain_leader() {
    grep -Eq '^[0-9:.]{12} leader is node [0-9]+ \(term [0-9]+\)' \
        "$DIR/plain.txt"
}
wait_until 10 "plain event lines from watch" has_plain_leader
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || fail "watch (plain) exited with $?"
echo "ok: plain lines: $(grep -c . "$DIR/plain.txt") events"
