#!/usr/bin/env bash
# raftctl bench: usage errors exit 2 and send nothing; a short run against a
# 3-node cluster completes requests without errors, its --json object is the
# last line of stdout with every documented key, and the writes it made are
# really in the cluster (read back with get). Many sessions batch their
# requests (MSG_CLIENT_BATCH) and the leader its replies; with --no-batch
# each request is its own datagram: both complete without errors, and no
# member counted a malformed datagram. A bench during which a quorum is
# lost exits non-zero (3: its failures were timeouts) and says how many
# operations failed. No timing is asserted.
. "$(dirname "$0")/lib.sh"

for bad in "-c 0" "--reads 1.5" "--reads x" "--size 32769" "--duration 0" \
           "--keys 0" "extra"; do
    # shellcheck disable=SC2086
    ctl bench $bad >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || fail "bench $bad: exit $rc, want 2"
done

ctl up --detach -n 3 --port "$(port 24700)" >/dev/null || fail "up --detach failed"
LAUNCHER_PID=$(cat "$DIR/launcher.pid")
wait_until 10 "a leader" has_one_leader

ctl bench -c 4 --duration 1 --warmup 0 --keys 1 --size 7 --json \
    >"$DIR/bench.out" 2>"$DIR/bench.err" || fail "bench exit code $?"
python3 - "$DIR/bench.out" <<'PY' || fail "bench --json shape: $(cat "$DIR/bench.out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.loads(lines[-1])
for k in ("ops", "seconds", "ops_per_sec", "p50_us", "p90_us", "p99_us",
          "p999_us", "max_us", "errors", "reads", "writes"):
    assert k in d, k
assert d["ops"] > 0 and d["errors"] == 0, d
assert d["writes"] == d["ops"] and d["reads"] == 0, d
assert d["p50_us"] <= d["p90_us"] <= d["p99_us"] <= d["p999_us"] <= d["max_us"], d
PY
# --keys 1 --size 7: every write put "abcdefg" under k0000000.
[ "$(ctl get k0000000)" = "abcdefg" ] || fail "bench writes are not readable"

ctl bench -c 3 --duration 1 --warmup 0 --keys 1 --reads 1 \
    >"$DIR/read.out" 2>/dev/null || fail "read bench exit code"
grep -q "^ops .*(0 writes" "$DIR/read.out" || fail "reads: $(cat "$DIR/read.out")"
grep -q "^errors *0 " "$DIR/read.out" || fail "read errors: $(cat "$DIR/read.out")"

for mode in "" "--no-batch" "--sequential"; do
    # shellcheck disable=SC2086
    ctl bench -c 32 --duration 1 --warmup 0 --reads 0.5 $mode \
        >"$DIR/mix.out" 2>/dev/null || fail "bench $mode exit code"
    grep -q "^errors *0 " "$DIR/mix.out" || fail "bench $mode: $(cat "$DIR/mix.out")"
    grep -q "^ops *[1-9]" "$DIR/mix.out" || fail "bench $mode did nothing"
done
grep -q "^keys *in order" "$DIR/mix.out" || fail "--sequential: $(cat "$DIR/mix.out")"
ctl status --drops --json >"$DIR/drops.json" || fail "status --drops"
python3 - "$DIR/drops.json" <<'PY' || fail "drops: $(cat "$DIR/drops.json")"
import json, sys
for n in json.load(open(sys.argv[1])):
    assert n["alive"] and n["drops"]["malformed"] == 0, n
PY

# Both followers killed mid-run: the rest of the run times out.
ctl bench -c 4 --duration 4 --warmup 0 --timeout 400 >"$DIR/lost.out" \
    2>"$DIR/lost.err" &
BENCH=$!
progressed() { grep -q "bench: .* [1-9][0-9]* ops/s" "$DIR/lost.err"; }
wait_until 10 "a bench progress line with completions" progressed
leader=$(leader_id)
for id in 1 2 3; do
    [ "$id" = "$leader" ] || ctl kill "$id" >/dev/null || fail "kill $id"
done
wait "$BENCH"
rc=$?
[ "$rc" = 3 ] || fail "bench losing its quorum: exit $rc (want 3): $(tail -2 "$DIR/lost.err")"
grep -q "^raftctl: bench: [1-9][0-9]* operation(s) failed (.*timeouts [1-9]" "$DIR/lost.err" ||
    fail "bench does not say how many failed: $(tail -2 "$DIR/lost.err")"
grep -q "^ops *[1-9]" "$DIR/lost.out" || fail "lost: $(cat "$DIR/lost.out")"
echo "ok"
