#!/usr/bin/env bash
# Hostile datagrams: tests/lin/hostile.c floods every node of a 5-node
# cluster for a few seconds with random bytes, truncated and bit-flipped
# valid messages, huge declared lengths, deep nesting, the wrong cluster id
# and version, and forged peer messages with huge or next-term terms from
# non-members, from members at the wrong address and from the receiver's
# own id. Afterwards: the same processes are alive, no term moved (a forged
# message adopted would raise it), one leader, reads and writes work, and
# status --drops counted every category. Then node 5 is stopped and the
# tool binds its address to send well-formed peer messages in its name with
# wild terms and indexes (a lying member: Raft's safety does not cover it,
# but no node may crash), and the cluster must still elect and write.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

up_detached 24200
wait_until 10 "a leader" has_one_leader
ctl put before flood --timeout 5000 >/dev/null || fail "put before the flood"
before=$(status_py "' '.join('%d:%d:%d' % (n['id'], n['pid'], n['term']) for n in d)")
echo "before: id:pid:term $before"
# Resident memory of every node, in kB.
rss() {
    local f total=0 pid
    for f in "$DIR"/node*.pid; do
        pid=$(cat "$f")
        total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
    done
    echo "$total"
}
rss_before=$(rss)

"$BIN/hostile" --config "$DIR/cluster.conf" --seconds 4 --rate 4000 \
    --seed "${HOSTILE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}" ||
    jfail "hostile tool failed"

after=$(status_py "' '.join('%d:%d:%d' % (n['id'], n['pid'], n['term']) if n['alive'] else '%d:dead' % n['id'] for n in d)")
echo "after:  id:pid:term $after"
[ "$before" = "$after" ] ||
    jfail "a node died, restarted or changed its term (before: $before; after: $after)"
rss_after=$(rss)
echo "resident memory of the 5 nodes: ${rss_before} kB before, ${rss_after} kB after"
[ "$rss_after" -lt $((rss_before + 100000)) ] ||
    jfail "the nodes grew by more than 100 MB under the flood"
has_one_leader || jfail "not exactly one leader after the flood"
ctl put after flood --timeout 5000 >/dev/null || jfail "put after the flood"
[ "$(ctl get after --timeout 5000)" = flood ] || jfail "get after the flood"
[ "$(ctl get before --timeout 5000)" = flood ] || jfail "get of the earlier write"

ctl status --drops
ctl status --drops --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
want = ['malformed', 'wrong_cluster', 'wrong_version', 'unknown_sender',
        'wrong_address', 'not_for_us']
bad = [(n['id'], r) for n in d for r in want
       if not n['alive'] or n['drops'][r] == 0]
sys.exit('no drops counted for (node, reason): %s' % bad if bad else 0)
" || jfail "a category of hostile datagram was not counted as dropped"

ctl kill 5 >/dev/null || fail "kill 5"
pids=$(status_py "' '.join('%d:%d' % (n['id'], n['pid']) for n in alive)")
"$BIN/hostile" --config "$DIR/cluster.conf" --impersonate 5 --seconds 2 \
    --rate 2000 --seed "${HOSTILE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}" ||
    jfail "hostile --impersonate failed"
pids_after=$(status_py "' '.join('%d:%d' % (n['id'], n['pid']) for n in alive)")
[ "$pids" = "$pids_after" ] ||
    jfail "a node crashed on a forged peer message (before: $pids; after: $pids_after; see node*.log)"
ctl start 5 >/dev/null || jfail "start 5"
wait_until 15 "one leader after the impersonation" has_one_leader
ctl put after impersonation --timeout 10000 >/dev/null || jfail "put after the impersonation"
echo "ok"
