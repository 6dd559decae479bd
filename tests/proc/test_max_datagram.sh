#!/usr/bin/env bash
# --max-datagram (docs/HOSTS.md): a cluster told to keep its datagrams
# within 1400 bytes replicates, batches client replies, catches a follower
# up from a snapshot in small chunks, and never sends a larger datagram
# (each node logs and counts one it does: none may appear). A write whose
# entry could not fit is refused with one line naming --max-datagram and
# changes nothing; values that fit go through. An out-of-range value is a
# usage error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snap_lib.sh"

MAXD=1400
ctl up --detach --max-datagram 100 --port "$(port 25300)" 2>"$DIR/up.err" && fail "up took --max-datagram 100"
grep -q -- "--max-datagram" "$DIR/up.err" || fail "up's refusal: $(cat "$DIR/up.err")"
rm -rf "${DIR:?}"/*
up_detached 25300 -n 3 --max-datagram "$MAXD" --snapshot-entries 300 --log-keep 50
grep -q "^max-datagram $MAXD$" "$DIR/options" || fail "--max-datagram not recorded in DIR/options"
wait_until 15 "a leader" has_one_leader
grep -q "datagrams kept within $MAXD bytes" "$DIR/node1.log" || fail "node 1 did not take --max-datagram"

# The documented bound (docs/HOSTS.md): key + value <= N - 216 bytes.
edge=$((MAXD - 216 - 4))
v_edge=$(head -c "$edge" /dev/zero | tr '\0' e)
ctl put edge "$v_edge" >/dev/null || fail "key + value = N - 216 refused"
ctl put edgy "${v_edge}x" 2>/dev/null && fail "key + value = N - 215 accepted"
v1000=$(head -c 1000 /dev/zero | tr '\0' a)
ctl put fits "$v1000" >/dev/null || fail "a 1000-byte value under --max-datagram $MAXD"
[ "$(ctl get fits)" = "$v1000" ] || fail "get of the 1000-byte value"
v2000=$(head -c 2000 /dev/zero | tr '\0' b)
ctl put big "$v2000" 2>"$DIR/big.err"
rc=$?
[ $rc = 4 ] || fail "a 2000-byte value exited $rc, want 4"
grep -q -- "--max-datagram" "$DIR/big.err" || fail "refusal does not name --max-datagram: $(cat "$DIR/big.err")"
ctl get big >/dev/null 2>&1
[ $? = 1 ] || fail "the refused write is there"

# A follower down while many writes of 900 bytes happen (batched replies,
# small AppendEntries batches), then caught up by a snapshot in chunks.
f=$(follower_id)
ctl kill "$f" >/dev/null || fail "kill $f"
ctl bench -c 8 --duration 3 --keys 500 --size 900 >"$DIR/bench.txt" 2>&1 ||
    fail "bench: $(tail -1 "$DIR/bench.txt")"
leader=$(leader_id)
target=$(applied "$leader")
ctl start "$f" >/dev/null || fail "start $f"
caught_up() {
    [ "$(applied "$f")" -ge "$target" ]
}
wait_until 60 "node $f applied >= $target" caught_up
[ "$(installs "$f")" -ge 1 ] || fail "node $f caught up without a snapshot install"
all_same() { kv_same 1 2 3; }
wait_until 20 "identical kv tables" all_same
ctl status >/dev/null || fail "status"
if grep -h "over --max-datagram" "$DIR"/node*.log >"$DIR/over.txt"; then
    fail "a node sent datagrams over $MAXD bytes: $(head -3 "$DIR/over.txt")"
fi
echo "max_datagram: $(grep -c . "$DIR/bench.txt") bench lines, node $f caught up through $(installs "$f") install(s), no datagram over $MAXD"
echo "ok"
