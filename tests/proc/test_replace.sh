#!/usr/bin/env bash
# raftctl replace (issue 17 item 3): a follower whose kv row was changed
# while it was stopped exits damaged; `replace ID` removes it, keeps its
# files (node<ID>.db.damaged), and adds a fresh member with a new id that
# catches up through InstallSnapshot (the log was compacted) and becomes a
# voter. Then `check` exits 0, every acknowledged write reads back, and with
# another original follower killed writes still commit: the new member
# counts in the quorum. Refusals (unknown id, the leader) exit 4.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 shell is not installed (make deps)"
up_detached 23400 -n 3
wait_until 10 "a leader" has_one_leader
acked=()
put_some() {
    local i
    for i in $(seq "$1" "$2"); do
        ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
        acked+=("$i")
    done
}
put_some 1 30
f=$(follower_id)
damage_kv_row "$f" k5 v5
ctl start "$f" >/dev/null 2>&1
# Applying a cas of k5 reads the row: node $f stops as damaged.
ctl cas k5 v5 v5b >/dev/null || fail "cas k5"
is_damaged() { [ "$(status_py "by_id[$f]['role']")" = damaged ]; }
wait_until 20 "node $f shown damaged" is_damaged
out=$(ctl start "$f" 2>&1)
[ $? = 4 ] || fail "start of the damaged node $f did not exit 4: $out"
echo "$out" | grep -q "raftctl replace $f" || fail "start does not name replace: $out"
put_some 31 40
ctl compact >/dev/null 2>&1 # The newcomer then needs the snapshot.

# Refusals change nothing.
ctl replace 99 >/dev/null 2>&1
[ $? = 4 ] || fail "replace of an unknown id was not refused with 4"
l=$(leader_id)
out=$(ctl replace "$l" 2>&1)
[ $? = 4 ] || fail "replace of the leader was not refused with 4: $out"
echo "$out" | grep -q "transfer" || fail "leader refusal does not say transfer: $out"

out=$(ctl replace "$f") || fail "replace $f: $out"
new=$(echo "$out" | tail -1)
echo "$out"
[ -n "$new" ] && [ "$new" -gt 3 ] || fail "replace printed '$new', want a new id above 3"
[ -f "$DIR/node$f.db.damaged" ] || fail "node$f.db.damaged was not kept"
! grep -q "^$f " "$DIR/cluster.conf" || fail "cluster.conf still lists node $f"
grep -q "^$new " "$DIR/cluster.conf" || fail "cluster.conf lacks node $new"
role=$(ctl members --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(next((m['role'] for m in d['members'] if m['id'] == $new), 'none'), len(d['members']))")
[ "$role" = "voter 3" ] || fail "members after replace: '$role', want 'voter 3'"
put_some 41 50
ctl check >/dev/null || fail "check after replace: $(ctl check 2>&1)"

for i in "${acked[@]}"; do
    want="v$i"
    [ "$i" = 5 ] && want=v5b
    got=$(ctl get "k$i") || fail "get k$i"
    [ "$got" = "$want" ] || fail "k$i = '$got', want $want"
done
# The other original follower goes: the leader and the newcomer commit.
l=$(leader_id)
other=$(status_py "[n['id'] for n in alive if n['id'] not in ($l, $new)][0]")
ctl kill "$other" >/dev/null || fail "kill $other"
ctl put quorum with-new >/dev/null || fail "no write commits without node $other"
[ "$(ctl get quorum)" = with-new ] || fail "get quorum"
# A later up of this directory runs the three current members.
ctl down >/dev/null || fail "down"
ctl up --detach >/dev/null || fail "up after replace: $(ctl up --detach 2>&1)"
LAUNCHER_PID=$(cat "$DIR/launcher.pid")
wait_until 10 "a leader after up" has_one_leader
[ "$(ctl get k40)" = v40 ] || fail "k40 after up"
echo "ok"
