#!/usr/bin/env bash
# Recording and replay (docs/RECORDING.md): a 3-member cluster started with
# up --record, its leader killed twice (the first victim started again in
# between, so a quorum stays); raftctl replay --dump of the recording gives
# the same sequence of (leader, term) as the launcher's own live feed
# (launcher.log), and every leader the test saw through status --json is
# in it, in order. watch --record, running during the second kill, records
# the last leader too. Files are 0600; --frame renders the dashboard of a
# moment; in a terminal the keys play, pause, step, seek and change the
# speed (tests/proc/replay_pty.py); a file that is not a recording is
# refused with one line.
. "$(dirname "$0")/lib.sh"

REC="$DIR/up.rec"
WREC="$DIR/watch.rec"
up_detached 25500 -n 3 --record "$REC"
[ "$(stat -c %a "$REC")" = 600 ] || fail "recording mode $(stat -c %a "$REC")"

seen=""
# Appends "ID:TERM" of the current leader to $seen (once per pair).
note_leader() {
    local pair
    pair=$(status_py "'%d:%d' % (max(leaders, key=lambda n: n['term'])['id'], max(leaders, key=lambda n: n['term'])['term']) if leaders else ''")
    if [ -n "$pair" ] && [ "${seen##* }" != "$pair" ]; then
        seen="$seen $pair"
    fi
    return 0
}
has_leader_noted() {
    has_one_leader && note_leader
}
has_new_leader_noted() {
    has_new_leader "$1" && note_leader
}

wait_until 10 "a leader" has_leader_noted
first=$(leader_id)
ctl kill "$first" >/dev/null || fail "kill $first"
wait_until 10 "a leader other than $first" has_new_leader_noted "$first"
second=$(leader_id)
ctl start "$first" >/dev/null || fail "start $first"
is_back() {
    [ "$(status_py "by_id[$first]['alive']")" = True ]
}
wait_until 10 "node $first answering again" is_back

"$RAFTCTL" -d "$DIR" watch --record "$WREC" >/dev/null 2>&1 </dev/null &
WATCH_PID=$!
trap 'kill "$WATCH_PID" 2>/dev/null; proc_cleanup' EXIT
watch_has_frames() {
    [ -s "$WREC" ] && grep -q '"k":"status"' "$WREC"
}
wait_until 10 "watch --record writing frames" watch_has_frames
ctl kill "$second" >/dev/null || fail "kill $second"
wait_until 10 "a leader other than $second" has_new_leader_noted "$second"
third=$(leader_id)
note_leader
# Let both recorders see the new leader for a few rounds, then stop.
has_watch_leader() {
    "$RAFTCTL" replay "$WREC" --dump 2>/dev/null | grep -q "leader $third "
}
wait_until 10 "watch's recording of leader $third" has_watch_leader
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || fail "watch --record exited with $?"
ctl down >/dev/null || fail "down"

"$RAFTCTL" replay "$REC" --dump >"$DIR/dump.txt" 2>"$DIR/dump.err" ||
    fail "replay --dump: $(cat "$DIR/dump.err")"
[ ! -s "$DIR/dump.err" ] || fail "replay --dump complained: $(cat "$DIR/dump.err")"
grep -q ' malformed 0$' "$DIR/dump.txt" || fail "malformed lines: $(tail -1 "$DIR/dump.txt")"
replayed=$(sed -nE 's/^t=[0-9]+ leader ([0-9]+) term ([0-9]+)$/\1:\2/p' "$DIR/dump.txt" | tr '\n' ' ')
# The launcher's feed, consecutive repeats collapsed ("no leader" and back).
live=$(sed -nE 's/^[0-9:.]+ leader is node ([0-9]+) \(term ([0-9]+)\).*/\1:\2/p' \
    "$DIR/launcher.log" | uniq | tr '\n' ' ')
[ -n "$replayed" ] || fail "no leader in the replay"
[ "$replayed" = "$live" ] ||
    fail "replay gives '$replayed', the live feed '$live'"
# What status --json showed, in order, is a subsequence of the replay.
python3 - "$replayed" "$seen" <<'PY' || fail "status --json saw '$seen', replay '$replayed'"
import sys
replayed, seen = sys.argv[1].split(), sys.argv[2].split()
it = iter(replayed)
sys.exit(0 if len(seen) >= 3 and all(p in it for p in seen) else 1)
PY
third_term=${seen##*:}
"$RAFTCTL" replay "$WREC" --dump | grep -q "leader $third term $third_term\$" ||
    fail "watch's recording lacks leader $third term $third_term"
[ "$(stat -c %a "$WREC")" = 600 ] || fail "watch recording mode"

# A frame of the moment after the first election, as text.
t1=$(sed -nE 's/^t=([0-9]+) leader .*/\1/p' "$DIR/dump.txt" | head -1)
"$RAFTCTL" replay "$REC" --frame "$t1" >"$DIR/frame.txt" || fail "replay --frame"
grep -q "raft replay up.rec (live)" "$DIR/frame.txt" || fail "frame title: $(head -1 "$DIR/frame.txt")"
grep -q "leader n$first " "$DIR/frame.txt" || fail "frame does not show leader $first"

# The replay in a terminal: play, pause, step, seek, speed, quit.
python3 "$(dirname "$0")/replay_pty.py" "$RAFTCTL" "$REC" "$DIR/screen.txt" ||
    fail "the replay terminal test failed"

# Not a recording: one line, exit 4, nothing else.
echo "hello" >"$DIR/bogus.rec"
"$RAFTCTL" replay "$DIR/bogus.rec" --dump >"$DIR/bogus.out" 2>&1
rc=$?
[ "$rc" = 4 ] || fail "bogus recording: exit $rc"
[ "$(wc -l <"$DIR/bogus.out")" = 1 ] || fail "bogus recording: $(cat "$DIR/bogus.out")"
echo "ok: leaders $replayed; status saw $seen; $(wc -l <"$REC") lines"
