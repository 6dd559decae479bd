#!/usr/bin/env bash
# Killing the leader makes the others elect a new one in a higher term, and
# the next put succeeds and is readable.
. "$(dirname "$0")/lib.sh"

up_detached 21100
wait_until 10 "a leader" has_one_leader
old=$(leader_id)
old_term=$(status_py "by_id[$old]['term']")
ctl put before 1 >/dev/null || fail "put before the kill"
ctl kill "$old" >/dev/null || fail "kill $old"
wait_until 10 "a leader other than node $old" has_new_leader "$old"
new=$(leader_id)
new_term=$(status_py "by_id[$new]['term']")
[ "$new_term" -gt "$old_term" ] || fail "new term $new_term <= old $old_term"
[ "$(status_py "by_id[$old]['alive']")" = False ] || fail "killed node alive"
ctl put after 2 >/dev/null || fail "put after re-election"
[ "$(ctl get after)" = 2 ] || fail "get after"
[ "$(ctl get before)" = 1 ] || fail "get before"
echo "ok: node $old -> node $new (term $old_term -> $new_term)"
