#!/usr/bin/env bash
# Membership under load (issue 18): grow 3 -> 5 with two raftctl add while
# `raftctl bench -c 64` and a loop of acknowledged puts write, then read
# every acknowledged put back; print writes/s in the seconds of the change
# against the 5 s before it. status marks a learner and lists the added
# members. A removed member that keeps running (cut off before its
# removal, started again by hand with the old cluster.conf, so it never
# learns it was removed and keeps campaigning) changes no member's term.
# Then the leader is removed.
. "$(dirname "$0")/lib.sh"

up_detached 23700 -n 3
wait_until 20 "a leader" has_one_leader
ms() { echo $(($(date +%s%N) / 1000000)); }
voters() {
    ctl members --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(0 if d['joint'] else sum(m['role'] == 'voter' for m in d['members']))"
}

ctl bench -c 64 --duration 5 >"$DIR/bench_before.out" 2>/dev/null ||
    fail "bench before"
before=$(sed -n 's/^throughput *\([0-9]*\) ops\/s.*/\1/p' "$DIR/bench_before.out")

# Acknowledged puts, one at a time, all through the change.
start_writer grow
t_bench=$(ms)
ctl bench -c 64 --duration 20 >/dev/null 2>"$DIR/bench_during.err" &
BENCH_PID=$!
sleep 2
t0=$(ms)
id4=$(ctl add | tail -1) || fail "add (4th)"
id5=$(ctl add | tail -1) || fail "add (5th)"
t1=$(ms)
[ "$id4 $id5" = "4 5" ] || fail "add printed '$id4 $id5', want 4 5"
wait_until 30 "five voters" test "$(voters)" = 5
wait "$BENCH_PID" || fail "bench during the change"
stop_writer
# Per-second figures: the seconds from the first add to the second's end.
during=$(python3 - "$DIR/bench_during.err" $(((t0 - t_bench) / 1000)) $(((t1 - t_bench + 999) / 1000)) <<'PY'
import re, sys
lo, hi = int(sys.argv[2]), int(sys.argv[3])
v = [int(m.group(2)) for m in map(re.compile(r"bench: *(\d+)/\d+ s +(\d+) ops/s").search,
                                  open(sys.argv[1], errors="replace")) if m and lo < int(m.group(1)) <= max(hi, lo + 1)]
print(sum(v) // len(v) if v else 0)
PY
)
echo "writes/s, 64 clients: ${before} before; ${during} during 3 -> 5 ($((t1 - t0)) ms for both adds)"
[ "$during" -gt 0 ] || fail "no writes during the change"

n_acked=$(wc -l <"$DIR/acked")
[ "$n_acked" -gt 0 ] || fail "no put acknowledged during the change"
check_acked grow
echo "acknowledged puts read back: $n_acked"

# status lists the added members; a learner is marked.
ctl status | grep -q "^5 .* follower\|^5 .* leader" || fail "status lacks node 5"
id6=$(ctl add --learner | tail -1) || fail "add --learner"
ctl status | grep -q "^$id6 .* learner " || fail "status does not mark learner $id6"
ctl members | grep -q "^$id6 .*learner" || fail "members does not list learner $id6"

# A removed member that keeps running: cut off first, so it never sees the
# configuration without it; started again by hand with the old
# cluster.conf, it keeps timing out; nobody's term moves.
f=$(follower_id)
others=$(status_py "','.join(str(n['id']) for n in alive if n['id'] != $f)")
cp "$DIR/cluster.conf" "$DIR/old.conf"
ctl partition "$f" "$others" >/dev/null || fail "partition $f"
ctl remove "$f" >/dev/null || fail "remove $f"
ctl heal >/dev/null || fail "heal"
"$(dirname "$RAFTCTL")/raftnode" --id "$f" --config "$DIR/old.conf" \
    --db "$DIR/node$f.db" --log "$DIR/node$f.hand.log" &
HAND_PID=$!
echo "$HAND_PID" >"$DIR/node$f.pid"
term_before=$(status_py "max(n['term'] for n in alive if n['id'] != $f)")
sleep 3
kill -0 "$HAND_PID" 2>/dev/null || fail "removed node $f did not keep running"
grep -q "pre-vote started\|election started" "$DIR/node$f.hand.log" ||
    fail "removed node $f never campaigned (the check proves nothing)"
term_after=$(status_py "max(n['term'] for n in alive if n['id'] != $f)")
[ "$term_after" = "$term_before" ] ||
    fail "removed node $f moved the term $term_before -> $term_after"
ctl put after-removed 1 >/dev/null || fail "put with node $f around"
kill "$HAND_PID"
wait "$HAND_PID"

# Remove learner $id6, then the leader: a new one takes over; writes go on.
ctl remove "$id6" >/dev/null || fail "remove learner $id6"
l=$(leader_id)
ctl remove "$l" >/dev/null || fail "remove leader $l"
wait_until 20 "a new leader" has_new_leader "$l"
ctl put after-leader-removed 1 >/dev/null || fail "put after removing the leader"
[ "$(voters)" = 3 ] || fail "want 3 voters after the removals, have $(voters)"
echo "ok"
