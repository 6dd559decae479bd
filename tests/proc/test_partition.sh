#!/usr/bin/env bash
# Partitioning the leader into a minority: the majority elects a new leader
# and commits; after heal the old leader follows and catches up.
. "$(dirname "$0")/lib.sh"

up_detached 22000
wait_until 10 "a leader" has_one_leader
old=$(leader_id)
minority="$old"
majority=""
for id in 1 2 3 4 5; do
    if [ "$id" != "$old" ]; then
        if [ "$(echo "$minority" | tr ',' '\n' | wc -l)" -lt 2 ]; then
            minority="$minority,$id"
        else
            majority="${majority:+$majority,}$id"
        fi
    fi
done
ctl partition "$minority" "$majority" >/dev/null || fail "partition $minority $majority"
wait_until 10 "a leader in $majority" has_new_leader "$old"
ctl put during partition --timeout 10000 >/dev/null || fail "put in the majority"
ctl heal >/dev/null || fail "heal"
target=$(status_py "by_id[$(leader_id)]['applied']")
healed() {
    [ "$(status_py "len(leaders) == 1 and by_id[$old]['applied'] >= $target")" = True ]
}
wait_until 15 "one leader and node $old applied >= $target" healed
ctl netem --loss 10% --delay 5 >/dev/null || fail "netem"
ctl put lossy yes --timeout 10000 >/dev/null || fail "put under netem"
ctl heal >/dev/null || fail "heal after netem"
echo "ok"
