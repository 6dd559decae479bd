#!/usr/bin/env bash
# Issue 16: a follower down while ~200,000 writes happen comes back and
# catches up through InstallSnapshot: the leader compacted past its log
# position (a small --snapshot-entries), the follower logs an install, and
# every member's kv table is identical afterwards; status shows the
# snapshot point. Then up again on the same DIR uses the options recorded
# in DIR/options.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snap_lib.sh"

up_detached 25000 -n 3 --snapshot-entries 5000 --log-keep 1000
[ "$(stat -c %a "$DIR/options")" = 600 ] || fail "DIR/options is not 0600"
grep -q "^snapshot-entries 5000$" "$DIR/options" || fail "options not recorded"
wait_until 10 "a leader" has_one_leader
f=$(follower_id)
ctl kill "$f" >/dev/null || fail "kill $f"
before=$(applied "$(leader_id)")
ctl bench -c 64 --duration 8 --keys 10000 --size 100 >"$DIR/bench.txt" 2>&1 ||
    fail "bench: $(tail -1 "$DIR/bench.txt")"
leader=$(leader_id)
target=$(applied "$leader")
echo "writes while node $f was down: $((target - before))"
point=$(sqlite3 -readonly "$DIR/node$leader.db" "SELECT idx FROM snapshot")
first=$(sqlite3 -readonly "$DIR/node$leader.db" "SELECT MIN(idx) FROM log")
[ "${first:-0}" -gt 10 ] || fail "the leader did not compact (log starts at $first)"
echo "leader $leader: snapshot point $point, log starts at $first"
# status's SNAP column is the snapshot point (the snapshot table's), above
# the compacted prefix by the --log-keep entries kept.
snap_col() { ctl status | awk -v id="$1" '$1 == id { print $NF }'; }
snap_is_point() {
    [ "$(snap_col "$leader")" = \
        "$(sqlite3 -readonly "$DIR/node$leader.db" "SELECT idx FROM snapshot")" ]
}
wait_until 5 "SNAP of $leader = its snapshot point" snap_is_point
[ "$(snap_col "$leader")" -ge "$first" ] ||
    fail "SNAP $(snap_col "$leader") is below the log's first entry $first"

t0=$(now_ms)
ctl start "$f" >/dev/null || fail "start $f"
caught_up() {
    [ "$(applied "$f")" -ge "$target" ]
}
wait_until 30 "node $f applied >= $target" caught_up
t1=$(now_ms)
[ "$(installs "$f")" -ge 1 ] || fail "node $f caught up without a snapshot install"
all_same() { kv_same 1 2 3; }
wait_until 20 "identical kv tables" all_same
echo "node $f caught up in $((t1 - t0)) ms through $(installs "$f") install(s);" \
    "image $(grep -o 'bytes=[0-9]*' "$DIR/node$leader.log" | tail -1)"

# compact [ID] answers once done; a later up takes the recorded options.
ctl compact >/dev/null || fail "compact"
ctl compact "$f" >/dev/null || fail "compact $f"
ctl down >/dev/null || fail "down"
# A restart loads the rows kept below the snapshot point (--log-keep 1000)
# as the log, so they still serve a follower behind the point.
kept_first=$(sqlite3 -readonly "$DIR/node$leader.db" "SELECT MIN(idx) FROM log")
kept_point=$(sqlite3 -readonly "$DIR/node$leader.db" "SELECT idx FROM snapshot")
[ "$kept_first" -le "$kept_point" ] ||
    fail "no rows kept below the point $kept_point (log starts at $kept_first)"
up_detached 25000
wait_until 10 "a leader" has_one_leader
grep "started id=$leader " "$DIR/node$leader.log" | tail -1 |
    grep -q "first_index=$kept_first " ||
    fail "node $leader restarted without the kept rows from $kept_first"
grep -q "snapshot_entries=5000 log_keep=1000" "$DIR/node$f.log" ||
    fail "the second up did not use DIR/options"
[ "$(tail -n 50 "$DIR/node$f.log" | grep -c 'started id=.*snapshot_entries=5000')" -ge 1 ] ||
    fail "restart without the recorded options"
echo "ok"
