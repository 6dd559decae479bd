#!/usr/bin/env bash
# Issue 17, truncated WAL: a follower is killed and its nodeN.db-wal cut
# through real frames (half of the committed frames its -shm index names),
# as a disk that lost synced writes would leave it. On start it says so
# (ERROR, its own log); the leader logs one ERROR line "member F lost
# entries it acknowledged", status shows it, the follower catches up, and
# writes still commit once the other follower is killed.
. "$(dirname "$0")/lib.sh"

up_detached 22300 -n 3
wait_until 20 "a leader" has_one_leader
for i in $(seq 1 60); do
    ctl put "key$i" "value$i" --timeout 10000 >/dev/null || fail "put key$i"
done
leader=$(leader_id)
f=$(follower_id)
other=$(status_py "[n['id'] for n in alive if n['id'] not in ($leader, $f)][0]")
holds_all() {
    [ "$(status_py "by_id[$f]['last_index'] >= by_id[$leader]['commit']")" = True ]
}
wait_until 20 "follower $f holds everything" holds_all
ctl kill "$f" >/dev/null || fail "kill $f"
python3 - "$DIR/node$f.db" <<'PY' || fail "cutting the WAL"
import os, struct, sys
db = sys.argv[1]
hdr = open(db + "-shm", "rb").read(48)
page, mx = struct.unpack("<HI", hdr[14:20])
assert mx > 4, mx
cut = 32 + (mx // 2) * (page + 24) + 100  # inside a frame
os.truncate(db + "-wal", cut)
print("cut %s-wal to %d bytes (%d of %d frames)" % (db, cut, mx // 2, mx))
PY
ctl start "$f" >/dev/null || fail "start $f"
grep -q "ERROR.*lost committed frames" "$DIR/node$f.log" ||
    fail "node $f did not report its lost WAL frames at startup"
lost_line() {
    grep -q "ERROR.*member $f lost entries it acknowledged: had [0-9]*, now [0-9]*" \
        "$DIR/node$leader.log"
}
wait_until 30 "the leader's ERROR line about member $f" lost_line
[ "$(grep -c "member $f lost entries it acknowledged" "$DIR/node$leader.log")" = 1 ] ||
    fail "the loss was reported more than once"
ctl status >"$DIR/status.txt" || fail "status"
grep -q "^member $leader saw members lose acknowledged entries 1 time" \
    "$DIR/status.txt" || fail "status: $(cat "$DIR/status.txt")"
ctl status --drops --json | python3 -c "
import json, sys
d = {n['id']: n for n in json.load(sys.stdin)}
assert d[$leader]['lost_acked'] == 1, d
" || fail "status --drops --json lost_acked"
ctl kill "$other" >/dev/null || fail "kill $other"
for i in $(seq 61 65); do
    ctl put "key$i" "value$i" --timeout 20000 >/dev/null ||
        fail "put key$i with $other down"
done
for i in 1 30 60 65; do
    got=$(ctl get "key$i" --timeout 20000) || fail "get key$i"
    [ "$got" = "value$i" ] || fail "key$i = '$got'"
done
echo "ok"
