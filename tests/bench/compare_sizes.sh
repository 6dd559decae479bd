#!/usr/bin/env bash
# Issue 21's side-by-side figures at real value sizes: etcd 3.4 (Debian's
# package, through its JSON gateway with ../shared/bench/etcd_kv.lua, as
# compare-etcd.sh does at 100 bytes) and this cluster, 3 members each on
# loopback, fsync on, 10,000 keys, closed-loop clients: 64 clients at 4000
# and 32000-byte values and 1 client at 32000. One system after the
# other, a fresh cluster per figure; prints writes/s, p50/p99 and ratios.
# A benchmark, not a test. Needs etcd, etcdctl and wrk (compare-etcd.sh
# installs them).
# Usage: [PORT=30950] [LUA=../shared/bench/etcd_kv.lua] tests/bench/compare_sizes.sh [SECONDS]
set -euo pipefail
DUR=${1:-10}
PORT=${PORT:-30950}
R=${RAFTCTL:-build/bin/raftctl}
LUA=${LUA:-$(dirname "$0")/../../../shared/bench/etcd_kv.lua}
for c in etcd etcdctl wrk python3; do
    command -v "$c" >/dev/null || { echo "compare_sizes: needs $c (run make bench once)" >&2; exit 2; }
done
[ -f "$LUA" ] || { echo "compare_sizes: no $LUA (set LUA=)" >&2; exit 2; }
WORK=$(mktemp -d -t raft-sizes.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    "$R" -d "$WORK/ours" down >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
CASES=("64 4000" "64 32000" "1 32000")

etcd_run() { # etcd_run CLIENTS SIZE -> "ops p50 p99"
    local c=$1 size=$2 i eps leader out ic
    rm -rf "$WORK"/n*.etcd
    ic="n1=http://127.0.0.1:23801,n2=http://127.0.0.1:23802,n3=http://127.0.0.1:23803"
    for i in 1 2 3; do
        etcd --name n$i --data-dir "$WORK/n$i.etcd" \
            --listen-client-urls http://127.0.0.1:2379$i \
            --advertise-client-urls http://127.0.0.1:2379$i \
            --listen-peer-urls http://127.0.0.1:2380$i \
            --initial-advertise-peer-urls http://127.0.0.1:2380$i \
            --initial-cluster "$ic" --initial-cluster-token sizes \
            --initial-cluster-state new --heartbeat-interval=50 \
            --election-timeout=300 >"$WORK/n$i.log" 2>&1 &
        PIDS+=($!)
    done
    eps=http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793
    for _ in $(seq 100); do
        ETCDCTL_API=3 etcdctl --endpoints=$eps endpoint health >/dev/null 2>&1 && break
        sleep 0.2
    done
    leader=$(ETCDCTL_API=3 etcdctl --endpoints=$eps endpoint status -w json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["Status"]["leader"] == s["Status"]["header"]["member_id"]: print(s["Endpoint"])')
    out=$(ETCD_OP=put ETCD_VAL=$size wrk -t1 -c"$c" -d"${DUR}s" --latency -s "$LUA" "$leader")
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PIDS=()
    python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
u = {'us': 1e-3, 'ms': 1, 's': 1e3}
def ms(p):
    m = re.search(r'^\s+%d%%\s+([\d.]+)(us|ms|s)$' % p, t, re.M)
    return float(m.group(1)) * u[m.group(2)] if m else float('nan')
ops = re.search(r'Requests/sec:\s+([\d.]+)', t)
print('%.0f %.2f %.2f' % (float(ops.group(1)) if ops else 0, ms(50), ms(99)))
if 'Non-2xx' in t:
    print('warning: etcd returned errors', file=sys.stderr)
PY
}

ours_run() { # ours_run CLIENTS SIZE -> "ops p50 p99"
    local c=$1 size=$2 j
    rm -rf "$WORK/ours"
    "$R" -d "$WORK/ours" up -n 3 --port "$PORT" --detach >/dev/null
    j=$("$R" -d "$WORK/ours" bench -c "$c" --size "$size" --duration "$DUR" --json 2>/dev/null | tail -1)
    "$R" -d "$WORK/ours" down >/dev/null
    python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print("%.0f %.2f %.2f" % (d["ops_per_sec"], d["p50_us"] / 1e3, d["p99_us"] / 1e3))' "$j"
}

echo "value sizes: 3 members each, fsync on, ${DUR}s per figure; $(date -u +%F)"
printf '| %-22s | %-22s | %-22s | %6s |\n' "clients, value" "etcd writes/s p50 p99" "ours writes/s p50 p99" ratio
printf '|%s|%s|%s|%s|\n' ------------------------ ------------------------ ------------------------ --------
for k in "${CASES[@]}"; do
    set -- $k
    read -r eo ep50 ep99 <<<"$(etcd_run "$1" "$2")"
    read -r oo op50 op99 <<<"$(ours_run "$1" "$2")"
    printf '| %-22s | %-22s | %-22s | %6s |\n' "$1, $2 B" "$eo $ep50 $ep99" "$oo $op50 $op99" \
        "$(python3 -c "print('%.1fx' % ($oo / $eo) if $eo else '-')")"
done
