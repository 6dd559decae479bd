#!/usr/bin/env bash
# Liveness under loss: with netem --loss 0.2 --dup 0.05 on every node of a
# 5-node cluster, 4 clients keep writing for ~10 s; the cluster must keep
# committing (prints committed entries/s and client ops/s; fails below a
# very low floor), the history must be linearizable, and after heal every
# node's committed log converges to the same rows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

SECS=${LOSSY_SECONDS:-10}
up_detached 24300
wait_until 10 "a leader" has_one_leader
ctl netem --loss 0.2 --dup 0.05 >/dev/null || fail "netem on every node"

c0=$(status_py "max(n['commit'] for n in alive)")
t0=$(now_ms)
term0=$(status_py "max(n['term'] for n in alive)")
"$BIN/linclient" --config "$DIR/cluster.conf" --out "$DIR/history.txt" \
    --clients 4 --keys 4 --duration "$SECS" --timeout 3000 --prefix l \
    2>"$DIR/linclient.log" || jfail "linclient: $(cat "$DIR/linclient.log")"
c1=$(status_py "max(n['commit'] for n in alive)")
t1=$(now_ms)
term1=$(status_py "max(n['term'] for n in alive)")
cat "$DIR/linclient.log"
ops=$(sed -n 's/^linclient: \([0-9]*\) ops.*/\1/p' "$DIR/linclient.log")
rate=$(( (c1 - c0) * 1000 / (t1 - t0) ))
echo "lossy: loss 20% dup 5% on 5 nodes: $((c1 - c0)) entries committed in" \
    "$((t1 - t0)) ms = $rate writes/s ($((ops * 1000 / (t1 - t0))) client ops/s);" \
    "term $term0 -> $term1"
[ "$rate" -ge 5 ] || jfail "only $rate committed writes/s under 20% loss"

ctl heal >/dev/null || fail "heal"
"$BIN/lincheck" "$DIR/history.txt" || jfail "history not linearizable under loss"
wait_until 20 "all nodes converged after heal" converged
upto=$(min_commit)
ctl down >/dev/null || jfail "down"
compare_logs "$upto"
compare_kv
echo "ok"
