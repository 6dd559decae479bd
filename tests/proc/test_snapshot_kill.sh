#!/usr/bin/env bash
# Issue 16: kill -9 of the receiving follower in the middle of a snapshot
# transfer (a ~15-20 MB image, slowed by netem delay on the leader), then
# restart: the member converges to the same kv table as the others, its
# staged partial image never reached the live tables meanwhile, and the
# transfer resumed from the staged prefix (a log line with the offset).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snap_lib.sh"

up_detached 25200 -n 3 --snapshot-entries 2000 --log-keep 100
wait_until 10 "a leader" has_one_leader
f=$(follower_id)
ctl kill "$f" >/dev/null || fail "kill $f"
# About 15-20 MB of distinct keys: at 100 ms a window the transfer takes
# well over a second, so the poll below sees it start long before its end.
ctl bench -c 32 --duration 4 --keys 20000 --size 1000 >"$DIR/bench.txt" 2>&1 ||
    fail "bench: $(tail -1 "$DIR/bench.txt")"
wait_until 10 "a leader after the load" has_one_leader
leader=$(leader_id)
ctl compact "$leader" >/dev/null || fail "compact $leader"
point=$(sqlite3 -readonly "$DIR/node$leader.db" "SELECT idx FROM snapshot")
ctl netem --delay 100 --node "$leader" >/dev/null || fail "netem"
ctl start "$f" >/dev/null || fail "start $f"
# An image made while $f was down no longer reaches the compacted log: the
# leader restarts on a fresh one (at or past the point) at $f's first
# reply. Killed while receiving that one, $f must resume it.
receiving() {
    local i
    for i in $(sed -n 's/.*receiving snapshot index=\([0-9]*\).*/\1/p' \
        "$DIR/node$f.log"); do
        [ "$i" -ge "$point" ] && return 0
    done
    return 1
}
wait_until 20 "node $f receiving a snapshot at >= $point" receiving
ctl kill "$f" >/dev/null || fail "kill $f mid-transfer"
[ "$(installs "$f")" = 0 ] || fail "the transfer finished before the kill (image too small)"
staged=$(stat -c %s "$DIR/node$f.db.snap.partial" 2>/dev/null || echo 0)
echo "node $f killed mid-transfer; staged: $staged bytes (with a 32-byte header)"
ctl heal >/dev/null || fail "heal"
target=$(applied "$leader")
ctl start "$f" >/dev/null || fail "start $f again"
caught_up() { [ "$(applied "$f")" -ge "$target" ]; }
wait_until 30 "node $f applied >= $target" caught_up
[ "$(installs "$f")" -ge 1 ] || fail "node $f caught up without a snapshot install"
# The same leader's image: the transfer goes on from the staged prefix.
if [ "$staged" -gt 32 ] && [ "$(leader_id)" = "$leader" ]; then
    grep "resuming snapshot" "$DIR/node$f.log" >&2 ||
        fail "node $f did not resume from its $staged staged bytes"
fi
all_same() { kv_same 1 2 3; }
wait_until 20 "identical kv tables" all_same
if grep -E "died signal=(6|11)|exited status=[1-9]" "$DIR/launcher.log" >&2; then
    fail "a node crashed"
fi
echo "ok"
