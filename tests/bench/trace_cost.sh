#!/usr/bin/env bash
# What the message trace costs (docs/TRACE.md): a 5-member cluster under
# `raftctl bench -c 64` for DURATION seconds (default 8), in three
# variants interleaved ROUNDS times (default 3), the order rotated each
# round: BASE's raftctl (another build, e.g. main's; skipped when unset),
# this build without a viewer, and this build with `raftctl trace --json`
# attached. Prints writes/s and, per 1,000 writes, the members' CPU time
# and the viewer's (user + system, /proc/PID/stat), which move less with
# the machine's load than writes/s do. A benchmark, not a test.
# Usage: [BASE=path/to/other/raftctl] [PORT=65400] [DURATION=8] [ROUNDS=3]
#        tests/bench/trace_cost.sh
set -euo pipefail
PORT=${PORT:-65400}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
R=${RAFTCTL:-build/bin/raftctl}
BASE=${BASE:-}
HZ=$(getconf CLK_TCK)
ticks() { # ticks PID...: user + system clock ticks of those processes
    local s=0 p
    for p in "$@"; do
        s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$s"
}
one() { # one LABEL RAFTCTL VIEWER(0|1)
    local label=$1 bin=$2 viewer=$3 d pids tp="" v0=0 n0 n1 vt=0 out
    d=$(mktemp -d -t raft-tracecost.XXXXXX)
    "$bin" -d "$d" up -n 5 --port "$PORT" --detach >/dev/null
    pids=$("$bin" -d "$d" status --json | python3 -c "import json,sys
print(' '.join(str(n['pid']) for n in json.load(sys.stdin)))")
    if [ "$viewer" = 1 ]; then
        "$bin" -d "$d" trace --json >"$d/trace.jsonl" &
        tp=$!
        v0=$(ticks "$tp")
    fi
    n0=$(ticks $pids)
    out=$("$bin" -d "$d" bench -c 64 --duration "$DURATION" --json 2>/dev/null)
    n1=$(ticks $pids)
    if [ -n "$tp" ]; then
        vt=$(($(ticks "$tp") - v0))
        kill -TERM "$tp"
        wait "$tp" || true
    fi
    python3 -c "
import json, sys
b = json.loads(sys.argv[1])
per_k = lambda t: t * 1000.0 / $HZ / b['ops'] * 1000
print('%-7s writes/s %8.0f  node CPU %5.1f ms/1k writes  viewer %4.2f ms/1k' %
      ('$label', b['ops_per_sec'], per_k($n1 - $n0), per_k($vt)))" "$out"
    "$R" -d "$d" down >/dev/null 2>&1 || true
    rm -rf "$d"
}
for r in $(seq "$ROUNDS"); do
    variants=("trace $R 0" "viewer $R 1")
    [ -n "$BASE" ] && variants+=("base $BASE 0")
    n=${#variants[@]}
    for k in $(seq 0 $((n - 1))); do
        # shellcheck disable=SC2086
        one ${variants[$(((k + r) % n))]}
    done
done
