#!/usr/bin/env bash
# Several hosts: three network namespaces made for this run (unique names),
# each with one raftnode on its own 10.77.0.x address, joined by veth pairs
# to a bridge in a fourth namespace from which raftctl talks to them (the
# addresses exist only inside these namespaces). Writes go through; then the
# leader's host is cut off (its link down): the other two elect a leader and
# keep committing; when the link returns the cut-off node converges to the
# same committed log. Skips (exit 77) where namespaces are not permitted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

P="rj$$"               # Unique prefix: namespaces, links.
BRNS="${P}br"
NODE_PIDS=()
NSES=()

netns_cleanup() {
    local ns
    stop_pids "${NODE_PIDS[@]}"
    for ns in "${NSES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    for l in "${P}v1a" "${P}v2a" "${P}v3a" "${P}v1b" "${P}v2b" "${P}v3b"; do
        ip link del "$l" 2>/dev/null
    done
    proc_cleanup
}
trap netns_cleanup EXIT

if ! command -v ip >/dev/null || ! ip netns add "$BRNS" 2>"$DIR/netns.err"; then
    echo "SKIP: cannot create network namespaces here ($(cat "$DIR/netns.err" 2>/dev/null)); needs root and iproute2"
    exit 77
fi
NSES+=("$BRNS")

# The raftctl client runs in the bridge's namespace, which reaches all.
ctl() {
    ip netns exec "$BRNS" "$RAFTCTL" -d "$DIR" "$@"
}

sh_ns() {
    ip netns exec "$1" sh -c "$2" || fail "in $1: $2"
}

sh_ns "$BRNS" "ip link add br0 type bridge && ip addr add 10.77.0.254/24 dev br0 && ip link set br0 up && ip link set lo up"
for i in 1 2 3; do
    ns="${P}h$i"
    ip netns add "$ns" || fail "ip netns add $ns"
    NSES+=("$ns")
    ip link add "${P}v${i}a" type veth peer name "${P}v${i}b" || fail "veth $i"
    ip link set "${P}v${i}a" netns "$ns" || fail "move veth into $ns"
    ip link set "${P}v${i}b" netns "$BRNS" || fail "move veth into $BRNS"
    sh_ns "$ns" "ip link set ${P}v${i}a name eth0 && ip addr add 10.77.0.$i/24 dev eth0 && ip link set eth0 up && ip link set lo up"
    sh_ns "$BRNS" "ip link set ${P}v${i}b master br0 && ip link set ${P}v${i}b up"
done
{
    echo "# Three hosts in network namespaces ${P}h1..3."
    for i in 1 2 3; do echo "$i 10.77.0.$i:7000"; done
} >"$DIR/cluster.conf"
# The keys every host holds (docs/AUTH.md): 32 random bytes in hex, 0600.
for k in cluster client; do
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$DIR/$k.key" &&
        echo >>"$DIR/$k.key") || fail "make $k.key"
done

start_node() {
    local i=$1
    ip netns exec "${P}h$i" "$BIN/raftnode" --id "$i" --config "$DIR/cluster.conf" \
        --db "$DIR/node$i.db" --log "$DIR/node$i.log" --create \
        >>"$DIR/node$i.out" 2>&1 &
    NODE_PIDS+=($!)
}
for i in 1 2 3; do start_node "$i"; done

wait_until 15 "a leader among the three hosts" has_one_leader
ctl put host greeting --timeout 5000 >/dev/null || jfail "put across hosts"
[ "$(ctl get host --timeout 5000)" = greeting ] || jfail "get across hosts"

cut=$(leader_id)
term0=$(status_py "by_id[$cut]['term']")
echo "netns: cutting off host $cut (the leader, term $term0)"
ip netns exec "${P}h$cut" ip link set eth0 down || fail "link down on host $cut"
wait_until 15 "a new leader on the other hosts" has_new_leader "$cut"
new=$(leader_id)
for k in 1 2 3 4 5; do
    ctl put "during$k" "v$k" --timeout 5000 >/dev/null || jfail "put $k while host $cut is cut off"
done
echo "netns: host $new leads term $(status_py "by_id[$new]['term']"); 5 writes committed without host $cut"

ip netns exec "${P}h$cut" ip link set eth0 up || fail "link up on host $cut"
wait_until 20 "host $cut back, following, same commit as the others" converged
[ "$(status_py "by_id[$cut]['role']")" = follower ] || jfail "host $cut did not follow"
[ "$(ctl get during5 --timeout 5000)" = v5 ] || jfail "read after the link returned"
upto=$(min_commit)
echo "netns: host $cut converged: every host committed and applied $upto"
for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
NODE_PIDS=()
compare_logs "$upto"
compare_kv
echo "ok"
