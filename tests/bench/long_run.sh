#!/usr/bin/env bash
# Issue 16's long-run figures: a 3-member cluster at its default compaction
# settings under `raftctl bench -c 64` for SECONDS (default 300), sampling
# the largest member's database plus WAL every 10 s; then down, up and the
# first put, timed. A benchmark, not a test: it prints figures.
# Usage: [PORT=27500] tests/bench/long_run.sh [SECONDS]   (RAFTCTL=build/bin/raftctl)
set -euo pipefail
SECS=${1:-300}
PORT=${PORT:-27500}
R=${RAFTCTL:-build/bin/raftctl}
D=$(mktemp -d -t raft-long.XXXXXX)
trap '"$R" -d "$D" down >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
"$R" -d "$D" up -n 3 --port "$PORT" --detach >/dev/null
db_wal_max() {
    local max=0 t i
    for i in 1 2 3; do
        t=$(($(stat -c %s "$D/node$i.db") + $(stat -c %s "$D/node$i.db-wal" 2>/dev/null || echo 0)))
        [ "$t" -gt "$max" ] && max=$t
    done
    echo "$max"
}
( peak=0; while [ ! -f "$D/done" ]; do
      s=$(db_wal_max); [ "$s" -gt "$peak" ] && peak=$s
      echo "$peak" >"$D/peak"; sleep 10
  done ) &
"$R" -d "$D" bench -c 64 --duration "$SECS" --json 2>/dev/null | tail -1 >"$D/bench.json"
touch "$D/done"; wait
python3 - "$D/bench.json" "$(cat "$D/peak")" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print("%d s: %d writes, %.0f writes/s, p50 %.2f ms, p99 %.2f ms, errors %d"
      % (j["seconds"], j["ops"], j["ops_per_sec"], j["p50_us"] / 1000,
         j["p99_us"] / 1000, j["errors"]))
print("largest member database + WAL: %.1f MB (peak of 10 s samples)"
      % (int(sys.argv[2]) / 1e6))
PY
"$R" -d "$D" down >/dev/null
t0=$(date +%s%N)
"$R" -d "$D" up --detach >/dev/null
"$R" -d "$D" put after-restart 1 >/dev/null
echo "down, up --detach, first put: $((($(date +%s%N) - t0) / 1000000)) ms"
