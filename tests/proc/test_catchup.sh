#!/usr/bin/env bash
# A killed follower misses writes; started again with its state, it catches
# up: its last_index and applied reach the leader's.
. "$(dirname "$0")/lib.sh"

up_detached 21200
wait_until 10 "a leader" has_one_leader
f=$(follower_id)
ctl kill "$f" >/dev/null || fail "kill $f"
for i in $(seq 1 20); do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
leader=$(leader_id)
target=$(status_py "by_id[$leader]['applied']")
ctl start "$f" >/dev/null || fail "start $f"
caught_up() {
    [ "$(status_py "by_id[$f]['alive'] and by_id[$f]['last_index'] >= $target and by_id[$f]['applied'] >= $target")" = True ]
}
wait_until 15 "node $f applied >= $target" caught_up
echo "ok: node $f caught up to index $target"
