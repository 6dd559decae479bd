#!/usr/bin/env bash
# How many times each user byte reaches the disk (issue 21): for each
# configuration "MEMBERS:SIZE" (default 3 members at 100, 4000 and 32000
# bytes, then 7 members at 100 and 4000), a fresh cluster under `raftctl
# bench -c CLIENTS` (default 64) for BENCH_SECONDS (default 10), after a
# WARMUP-second run (default 2) that fills the log and the WAL, so the
# sample sees the steady state: checkpoints and compaction included.
# Prints writes/s, p50/p99, and per member the bytes written to disk
# (/proc/PID/io write_bytes of the raftnode processes, which counts the
# WAL, the checkpoints into the database file and the zero-filling of the
# WAL) per user byte (key plus value of each write), the average and the
# largest member, and the members' CPU (utime + stime) per write in ms.
# The byte and CPU figures move far less with the machine's load than
# writes/s. A benchmark, not a test.
# BENCH_ARGS are added to each `raftctl bench` (e.g. "--keys 1000000").
# Usage: [PORT=27200] [BENCH_SECONDS=10] [WARMUP=2] [CLIENTS=64]
#        [CONFIGS="3:100 3:4000 3:32000 7:100 7:4000"] [BENCH_ARGS=...]
#        tests/bench/amplification.sh [UP OPTIONS]   (RAFTCTL=build/bin/raftctl)
set -euo pipefail
PORT=${PORT:-27200}
SECS=${BENCH_SECONDS:-10}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-64}
read -r -a BENCH_EXTRA <<<"${BENCH_ARGS:-}"
CONFIGS=${CONFIGS:-3:100 3:4000 3:32000 7:100 7:4000}
R=${RAFTCTL:-build/bin/raftctl}
KEY_BYTES=8 # raftctl bench's keys are "k%07u".
D=""
cleanup() {
    if [ -n "$D" ]; then
        "$R" -d "$D" down >/dev/null 2>&1 || true
        rm -rf "$D"
    fi
}
trap cleanup EXIT

# sample PIDS: per member "cpu_ticks write_bytes", one line.
sample() {
    for p in $1; do
        awk '{print $14 + $15}' "/proc/$p/stat"
        awk '/^write_bytes/ {print $2}' "/proc/$p/io"
    done | paste -sd' '
}

one() { # one MEMBERS SIZE [UP OPTIONS]
    local n=$1 size=$2 pids s0 s1
    shift 2
    D=$(mktemp -d -t raft-amp.XXXXXX)
    "$R" -d "$D" up -n "$n" --port "$PORT" --detach "$@" >/dev/null
    pids=$("$R" -d "$D" status --json | python3 -c "import json,sys
print(' '.join(str(m['pid']) for m in json.load(sys.stdin)))")
    if [ "$WARMUP" -gt 0 ]; then
        "$R" -d "$D" bench -c "$CLIENTS" --size "$size" --duration "$WARMUP" \
            --warmup 0 --json "${BENCH_EXTRA[@]}" >/dev/null 2>&1 || true
    fi
    s0=$(sample "$pids")
    "$R" -d "$D" bench -c "$CLIENTS" --size "$size" --duration "$SECS" \
        --warmup 0 --json "${BENCH_EXTRA[@]}" 2>/dev/null | tail -1 >"$D/bench.json"
    s1=$(sample "$pids")
    python3 - "$n" "$size" "$KEY_BYTES" "$D/bench.json" "$s0" "$s1" <<'PY'
import json, os, sys
n, size, key = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
j = json.load(open(sys.argv[4]))
a, b = list(map(int, sys.argv[5].split())), list(map(int, sys.argv[6].split()))
ops = max(j["ops"], 1)
user = ops * (key + size)
cpu = sum(b[i] - a[i] for i in range(0, len(a), 2)) / os.sysconf("SC_CLK_TCK")
disk = [b[i] - a[i] for i in range(1, len(a), 2)]
print("| %7d | %7d | %8.0f | %5.2f %5.0f | %9.2f | %9.2f | %9.3f |"
      % (n, size, j["ops_per_sec"], j["p50_us"] / 1e3, j["p99_us"] / 1e3,
         sum(disk) / n / user, max(disk) / user, cpu * 1e3 / ops))
PY
    "$R" -d "$D" down >/dev/null 2>&1 || true
    rm -rf "$D"
    D=""
}

echo "amplification: $CLIENTS clients, ${SECS}s per row after ${WARMUP}s of warm-up;" \
    "disk = bytes written per user byte (key + value) per member"
echo "| members | value B | writes/s | p50 p99 ms  | disk, avg | disk, max | CPU ms/op |"
echo "|---------|---------|----------|-------------|-----------|-----------|-----------|"
for c in $CONFIGS; do
    one "${c%%:*}" "${c##*:}" "$@"
done
