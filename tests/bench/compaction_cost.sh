#!/usr/bin/env bash
# What compaction costs a write: a 3-member cluster under `raftctl bench
# -c 64` for DURATION seconds (default 15), once with the `up` options
# given (default: the defaults, compaction on) and once with
# --snapshot-entries 0 (off), ROUNDS times alternating (default 2), since
# the machine's load moves. Prints writes/s and, per write, the members'
# CPU time (user + system) and bytes written to disk (/proc/PID/io
# write_bytes), which move less with the load than writes/s do.
# A benchmark, not a test.
# Usage: [PORT=27700] [DURATION=15] [ROUNDS=2] tests/bench/compaction_cost.sh [UP OPTIONS]
set -euo pipefail
PORT=${PORT:-27700}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-2}
R=${RAFTCTL:-build/bin/raftctl}
one() { # one LABEL [UP OPTIONS]
    local label=$1 d pids s0 s1
    shift
    d=$(mktemp -d -t raft-compcost.XXXXXX)
    "$R" -d "$d" up -n 3 --port "$PORT" --detach "$@" >/dev/null
    pids=$("$R" -d "$d" status --json | python3 -c "import json,sys
print(' '.join(str(n['pid']) for n in json.load(sys.stdin)))")
    sample() {
        for p in $pids; do
            awk '{print $14 + $15}' "/proc/$p/stat"
            awk '/^write_bytes/ {print $2}' "/proc/$p/io"
        done | paste -sd' '
    }
    s0=$(sample)
    "$R" -d "$d" bench -c 64 --duration "$DURATION" --warmup 0 --json \
        2>/dev/null | tail -1 >"$d/bench.json"
    s1=$(sample)
    "$R" -d "$d" down >/dev/null 2>&1 || true
    python3 - "$label" "$d/bench.json" "$s0" "$s1" <<'PY'
import json, os, sys
label, path, a, b = sys.argv[1:5]
j = json.load(open(path))
a, b = list(map(int, a.split())), list(map(int, b.split()))
cpu = sum(b[i] - a[i] for i in range(0, len(a), 2)) / os.sysconf("SC_CLK_TCK")
disk = sum(b[i] - a[i] for i in range(1, len(a), 2))
n = max(j["ops"], 1)
print("%-15s %6.0f writes/s  p99 %5.1f ms  per write: CPU %5.1f us, disk %5.0f B"
      % (label, j["ops_per_sec"], j["p99_us"] / 1000, cpu * 1e6 / n, disk / n))
PY
    rm -rf "$d"
}
for _ in $(seq "$ROUNDS"); do
    one "compaction on" "$@"
    one "compaction off" --snapshot-entries 0
done
