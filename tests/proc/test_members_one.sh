#!/usr/bin/env bash
# One voter with a learner (docs/MEMBERSHIP.md): 3 voters and a learner,
# remove two voters; the last voter keeps serving writes (the learner gets
# them), survives being killed and restarted three times (it wins each
# election by its own vote and must send nothing of its new term before
# the term is durable), and removing it is refused (exit 4, nothing
# changed). Then add grows it back to 3 voters; every acknowledged write is
# read back, and the learner's log ends where the leader's does.
. "$(dirname "$0")/lib.sh"

up_detached 23200 -n 3
wait_until 10 "a leader" has_one_leader
members_py() {
    ctl members --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
voters = sorted(m['id'] for m in d['members'] if m['role'] == 'voter')
learners = sorted(m['id'] for m in d['members'] if m['role'] == 'learner')
print($1)"
}
put_some

learner=$(ctl add --learner | tail -1) || fail "add --learner"
put_some

# 3 -> 2 -> 1 voter, removing followers.
for _ in 1 2; do
    f=$(status_py "[n['id'] for n in alive if n['role'] == 'follower'][0]")
    ctl remove "$f" >/dev/null || fail "remove $f"
    put_some
done
[ "$(members_py "len(voters)")" = 1 ] || fail "want one voter: $(ctl members)"
[ "$(members_py "learners")" = "[$learner]" ] || fail "learner $learner gone: $(ctl members)"
l=$(leader_id)
[ "$(members_py "voters[0]")" = "$l" ] || fail "the voter is not the leader $l"

# The last voter cannot be removed.
ctl remove "$l" >"$DIR/refused.out" 2>&1
rc=$?
[ $rc = 4 ] || fail "removing the last voter: exit $rc, want 4"
grep -q "last voter" "$DIR/refused.out" || fail "refusal says: $(cat "$DIR/refused.out")"
[ "$(members_py "voters")" = "[$l]" ] || fail "the refusal changed the members"

# Killed and restarted, the single voter elects itself again and serves.
for round in 1 2 3; do
    ctl kill "$l" >/dev/null || fail "kill $l (round $round)"
    ctl start "$l" >/dev/null || fail "start $l (round $round)"
    wait_until 15 "node $l leads again (round $round)" has_one_leader
    [ "$(leader_id)" = "$l" ] || fail "leader is $(leader_id), want $l"
    put_some
done

# The learner holds what the voter committed.
learner_done() {
    [ "$(status_py "by_id[$learner]['commit'] >= by_id[$l]['commit'] and by_id[$learner]['last_index'] == by_id[$l]['last_index']")" = True ]
}
wait_until 10 "learner $learner caught up" learner_done

# Back to 3 voters.
for _ in 1 2; do
    ctl add >/dev/null || fail "add from $(members_py "len(voters)") voter(s)"
    put_some
done
[ "$(members_py "len(voters)")" = 3 ] || fail "want 3 voters: $(ctl members)"

check_keys
echo "one voter: served $n_keys writes across 3 -> 1 -> 3 voters and 3 restarts"
echo "ok"
