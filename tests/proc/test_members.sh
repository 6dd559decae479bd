#!/usr/bin/env bash
# Membership (issue 18): add grows 3 -> 4 with a caught-up voter, add
# --learner then promote, remove a follower (its process stops, its term
# stays where it was), remove the leader, transfer leadership to a named
# member 20 times (median time printed), and refusals change nothing.
# Every write acknowledged along the way is read back at the end.
. "$(dirname "$0")/lib.sh"

up_detached 23300 -n 3
wait_until 10 "a leader" has_one_leader
put_some

members_json() { ctl members --json; }
role_of() {
    members_json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(next((m['role'] for m in d['members'] if m['id'] == $1), 'none'))"
}

id=$(ctl add | tail -1) || fail "add"
[ "$id" = 4 ] || fail "add printed '$id', want 4"
[ "$(role_of 4)" = voter ] || fail "node 4 is $(role_of 4) after add"
grep -q "^4 " "$DIR/cluster.conf" || fail "cluster.conf lacks node 4"
put_some

id=$(ctl add --learner | tail -1) || fail "add --learner"
[ "$(role_of "$id")" = learner ] || fail "node $id is not a learner"
ctl promote "$id" >/dev/null || fail "promote $id"
[ "$(role_of "$id")" = voter ] || fail "node $id not a voter after promote"
put_some

# Refusals: exit 4, one line, nothing changed.
ctl promote "$id" >/dev/null 2>&1
[ $? = 4 ] || fail "promoting a voter was not refused with 4"
ctl remove 99 >/dev/null 2>&1
[ $? = 4 ] || fail "removing an unknown id was not refused with 4"

# Remove a follower: it stops, and no member's term moved because of it.
f=$(follower_id)
term_before=$(status_py "max(n['term'] for n in alive)")
ctl remove "$f" >/dev/null || fail "remove $f"
[ "$(role_of "$f")" = none ] || fail "node $f still a member"
grep -q "^$f " "$DIR/cluster.conf" && fail "cluster.conf still lists $f"
put_some
term_after=$(status_py "max(n['term'] for n in alive if n['id'] != $f)")
[ "$term_after" = "$term_before" ] || fail "term moved $term_before -> $term_after"

# Remove the leader: a new one takes over and writes go on.
l=$(leader_id)
ctl remove "$l" >/dev/null || fail "remove leader $l"
wait_until 10 "a new leader" has_new_leader "$l"
put_some

# Transfer to a named member, 20 times, between two voters.
a=$(leader_id)
b=$(status_py "[n['id'] for n in alive if n['role'] != 'leader' and n['id'] != $f][0]")
times=()
for i in $(seq 1 20); do
    t=$b
    [ $((i % 2)) = 0 ] && t=$a
    out=$(ctl transfer "$t") || fail "transfer to $t: $out"
    ms=$(echo "$out" | sed -n 's/.*first commit after \([0-9]*\) ms.*/\1/p')
    [ -n "$ms" ] || fail "transfer printed '$out'"
    times+=("$ms")
done
ctl put after-transfers 1 >/dev/null || fail "put after the transfers"
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 10p)
echo "transfer (command to the new leader's first commit): median ${median} ms over 20 (min $(printf '%s\n' "${times[@]}" | sort -n | head -1), max $(printf '%s\n' "${times[@]}" | sort -n | tail -1))"

check_keys

# The removed members' files stay in DIR and cluster.conf no longer lists
# them: a restart runs the current configuration (the log wins).
ctl down >/dev/null || fail "down"
ctl up --detach >/dev/null || fail "up after removes: the removed members' files must not block it"
[ "$(ctl get after-transfers)" = 1 ] || fail "get after the restart"
echo "ok"
