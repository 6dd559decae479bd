#!/usr/bin/env bash
# Hung disk (docs/DISK.md): the leader's syncer child is made to wait 60 s
# before each fdatasync (raftctl netem --disk-delay 60000). Its loop runs
# on and it keeps sending heartbeats, so only the disk rule can depose it:
# once a sync has been outstanding for 6 election timeouts (at least 1 s)
# it must step down and not campaign, status must show its disk hung, and
# the other two must elect a leader that serves writes. After heal the old
# leader's disk answers again (status ok). Prints the time from the fault
# to the new leader.
. "$(dirname "$0")/lib.sh"

up_detached 23100 --nodes 3
wait_until 10 "a leader" has_one_leader
ctl put before 1 >/dev/null || fail "put before"
old=$(leader_id)
term0=$(status_py "max(n['term'] for n in alive)")

ctl netem --disk-delay 60000 --node "$old" >/dev/null || fail "disk delay on leader $old"
t0=$(($(date +%s%N) / 1000000))
# Writes make the leader ask for a sync, which now hangs (a leader with
# nothing to write never syncs, so nothing shows the disk hung): keep
# writing while polling (answered or not: the others may commit them).
N_DURING=0
new_leader() {
    N_DURING=$((N_DURING + 1))
    ctl put "during$N_DURING" 1 --timeout 300 >/dev/null 2>&1
    [ "$(status_py "len([n for n in leaders if n['id'] != $old and n['term'] > $term0]) == 1")" = True ]
}
wait_until 30 "a leader other than $old in a term above $term0" new_leader
t1=$(($(date +%s%N) / 1000000))
new=$(leader_id)
echo "hung leader $old replaced by $new after $((t1 - t0)) ms (polled)"
# The same from the members' logs, without the polling: fault applied ->
# the old leader steps down -> another leader is known.
python3 - "$DIR" "$old" "$new" <<'PY' || fail "log figures"
import datetime, sys
d, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
def when(path, text, after=datetime.datetime.min):
    for line in open(path):
        if text in line:
            t = datetime.datetime.fromisoformat(line.split()[0].rstrip("Z"))
            if t >= after:
                return t
    raise SystemExit("no '%s' in %s" % (text, path))
fault = when("%s/node%s.log" % (d, old), "fault disk-delay applied")
down = when("%s/node%s.log" % (d, old), "disk hung:", fault)
lead = when("%s/node%s.log" % (d, new), "became leader", fault)
ms = lambda t: int((t - fault).total_seconds() * 1000)
print("from the logs: fault applied -> hung, stepped down %d ms -> n%s leads %d ms"
      % (ms(down), new, ms(lead)))
PY

old_hung() {
    [ "$(status_py "by_id[$old]['alive'] and by_id[$old]['role'] != 'leader'")" = True ] &&
        ctl status | grep -q "^disk of member $old: hung"
}
wait_until 10 "status to show node $old's disk hung, not leading" old_hung
ctl status | grep -q "^disk of member $old: hung" || fail "status table: no disk line for $old"
ctl put after 2 --timeout 5000 >/dev/null || fail "a write while $old's disk hangs"
[ "$(ctl get after --timeout 5000)" = 2 ] || fail "get after"

ctl heal >/dev/null || fail "heal"
old_ok() {
    [ "$(status_py "by_id[$old]['alive']")" = True ] &&
        ! ctl status | grep -q "^disk of member $old:"
}
wait_until 10 "node $old's disk ok again after heal" old_ok
[ "$(ctl get before --timeout 5000)" = 1 ] || fail "get before"
echo "ok"
