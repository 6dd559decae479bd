#!/usr/bin/env bash
# What the datagram tags cost (docs/AUTH.md): a 3-member cluster, tagged
# or with RAFT_INSECURE=1 (every process untagged), under three workloads
# (`raftctl bench` writes with 64 clients, writes with 1, linearizable
# reads with 64), the two variants alternating ROUNDS times (default 3),
# DURATION seconds each (default 8). Prints writes/s or reads/s and p99
# per run, then the medians and the tagged/insecure ratio. A benchmark,
# not a test: run it on a quiet machine.
# Usage: [PORT=30700] [DURATION=8] [ROUNDS=3] tests/bench/tag_cost.sh
set -euo pipefail
PORT=${PORT:-30700}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
R=${RAFTCTL:-build/bin/raftctl}
OUT=$(mktemp -t raft-tagcost.XXXXXX)
trap 'rm -f "$OUT"' EXIT
one() { # one VARIANT(tags|insecure) WORKLOAD-NAME BENCH-ARGS...
    local variant=$1 name=$2 d insecure=""
    shift 2
    [ "$variant" = insecure ] && insecure=1
    d=$(mktemp -d -t raft-tagcost.XXXXXX)
    RAFT_INSECURE=$insecure "$R" -d "$d" up -n 3 --port "$PORT" --detach >/dev/null
    RAFT_INSECURE=$insecure "$R" -d "$d" bench --duration "$DURATION" --json "$@" \
        2>/dev/null | tail -1 | python3 -c "
import json, sys
b = json.load(sys.stdin)
print('$variant $name %.0f %.3f' % (b['ops_per_sec'], b['p99_us'] / 1000.0))" |
        tee -a "$OUT"
    RAFT_INSECURE=$insecure "$R" -d "$d" down >/dev/null 2>&1 || true
    rm -rf "$d"
}
for r in $(seq "$ROUNDS"); do
    for v in tags insecure; do
        [ $((r % 2)) = 0 ] && v=$([ "$v" = tags ] && echo insecure || echo tags)
        one "$v" writes64 -c 64
        one "$v" writes1 -c 1
        one "$v" reads64 -c 64 --reads 1
    done
done
python3 - "$OUT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for name in ("writes64", "writes1", "reads64"):
    med = {}
    for v in ("tags", "insecure"):
        ops = [float(r[2]) for r in rows if r[0] == v and r[1] == name]
        p99 = [float(r[3]) for r in rows if r[0] == v and r[1] == name]
        med[v] = (statistics.median(ops), statistics.median(p99))
    t, i = med["tags"], med["insecure"]
    print("%-8s tags %8.0f/s p99 %.2f ms | insecure %8.0f/s p99 %.2f ms | "
          "ratio %.3f, p99 %+.2f ms" % (name, t[0], t[1], i[0], i[1],
                                        t[0] / i[0], t[1] - i[1]))
PY
