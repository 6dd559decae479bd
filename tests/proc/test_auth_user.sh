#!/usr/bin/env bash
# Issue 19 as another local user would try it: user `nobody` (setpriv),
# holding no key, next to a cluster root started. tests/proc/forge.py sends
# hand-written messages of every type (fault control, client request and
# batch, client reply, vote, append with an entry, TimeoutNow, snapshot
# chunk, status) bare, behind a random tag and behind a random client tag:
# every one is counted bad_tag on every node and none is answered. A
# proxy (run as nobody) captures what root's raftctl sends, a partition
# among it; resent by nobody after the heal, every captured datagram is
# counted a replay and no rule comes back, also on a node restarted since
# the capture (its horizon, docs/AUTH.md). A fake node (nobody) answers a
# victim's put with forged OK replies: the put does not report success.
# Meanwhile a client's acknowledged writes all read back, no forged key
# exists, no term or process changed. A key file of mode 0644 is refused
# with the documented line; `down`, `kill` and `partition` run by nobody
# exit non-zero and stop nothing, also when nobody may read the pid files.
# Needs root (to become nobody): exits 77 otherwise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: runs the forger as user nobody, which needs root"
    exit 77
fi
AS_NOBODY=(setpriv --reuid=nobody --regid=65534 --clear-groups)
if ! id nobody >/dev/null 2>&1 || [ ! -x /usr/bin/python3 ] ||
    ! "${AS_NOBODY[@]}" /usr/bin/python3 -c "" 2>/dev/null; then
    echo "SKIP: needs user nobody, setpriv and /usr/bin/python3"
    exit 77
fi
FORGE=$(cd "$(dirname "$0")" && pwd)/forge.py
"${AS_NOBODY[@]}" test -r "$FORGE" -a -x "$BIN/raftctl" ||
    { echo "SKIP: nobody cannot read $FORGE or run $BIN/raftctl"; exit 77; }
nobody() {
    (cd / && exec "${AS_NOBODY[@]}" "$@")
}
# The helpers this test starts (the proxy and fake node run as nobody,
# started with exec so that their pids are the ones recorded).
PROXY="" FAKE=""
auth_user_cleanup() {
    touch "$DIR/stop" 2>/dev/null
    for pid in $WRITER $PROXY $FAKE; do
        kill "$pid" 2>/dev/null
    done
    proc_cleanup
}
trap auth_user_cleanup EXIT

# Generous timers: no election on a loaded machine, so a term that moves
# means a forged or replayed datagram was read.
up_detached 24800 -n 3 --heartbeat 100 --election 1000
wait_until 10 "a leader" has_one_leader
CID=$(awk '$1 == "cluster" {print $2}' "$DIR/cluster.conf")
PORTS="$(port 24801) $(port 24802) $(port 24803)"
ids_terms() {
    status_py "' '.join('%d:%d:%d' % (n['id'], n['pid'], n['term']) for n in d)"
}
# drops REASON: that counter of each node, space-separated.
drops() {
    ctl status --drops --json | python3 -c "
import json, sys
print(' '.join(str(n['drops']['$1']) for n in json.load(sys.stdin)))"
}
# delta BEFORE AFTER: the element-wise differences.
delta() {
    python3 -c "import sys; a, b = sys.argv[1].split(), sys.argv[2].split()
print(' '.join(str(int(y) - int(x)) for x, y in zip(a, b)))" "$1" "$2"
}

# A concurrent client: acknowledged puts, one at a time.
start_writer w
acked_some() { [ -s "$DIR/acked" ]; }
wait_until 20 "the writer's first acknowledged put" acked_some

# nobody_sends REASON WANT WHAT ARGS...: forge.py ARGS as nobody: no node
# answers, each node's REASON counter rises by WANT ("30 30 30"), no rule
# takes effect (netem drops) and no term or process moves.
nobody_sends() {
    local reason=$1 want=$2 what=$3 before c0 netem0 out
    shift 3
    before=$(ids_terms)
    c0=$(drops "$reason")
    netem0=$(drops netem)
    out=$(nobody /usr/bin/python3 "$FORGE" "$@") ||
        fail "a node answered a $what datagram: $out"
    echo "$out"
    [ "$(delta "$c0" "$(drops "$reason")")" = "$want" ] ||
        fail "$what: $reason per node rose by $(delta "$c0" "$(drops "$reason")"), want $want"
    [ "$(delta "$netem0" "$(drops netem)")" = "0 0 0" ] ||
        fail "a $what partition or netem rule took effect"
    [ "$(ids_terms)" = "$before" ] ||
        fail "$what: term or process changed: $before -> $(ids_terms)"
}

# 1. Forged datagrams of every type, without the key.
# shellcheck disable=SC2086
nobody_sends bad_tag "30 30 30" forged forge "$CID" $PORTS
ctl status | grep -q "^disk of member" && fail "a forged disk delay took effect"

# 2. Capture through a proxy (nobody), then replay after the heal.
mkdir -m 700 "$DIR/via"
cp -p "$DIR/cluster.key" "$DIR/client.key" "$DIR/via/"
{
    echo "cluster $CID"
    for i in 1 2 3; do echo "$i 127.0.0.1:$(port $((24810 + i)))"; done
} >"$DIR/via/cluster.conf"
: >"$DIR/capture"
chmod 666 "$DIR/capture"
chmod 711 "$DIR"
(cd / && exec "${AS_NOBODY[@]}" /usr/bin/python3 "$FORGE" proxy "$DIR/capture" \
    "$(port 24811):$(port 24801)" "$(port 24812):$(port 24802)" \
    "$(port 24813):$(port 24803)") >"$DIR/proxy.out" 2>&1 &
PROXY=$!
proxy_ready() { grep -q "^ready$" "$DIR/proxy.out" 2>/dev/null; }
wait_until 10 "the proxy" proxy_ready
"$RAFTCTL" -d "$DIR/via" put captured yes >/dev/null || fail "put through the proxy"
"$RAFTCTL" -d "$DIR/via" partition 1 2,3 >/dev/null || fail "partition through the proxy"
kill "$PROXY"
wait "$PROXY" 2>/dev/null
PROXY=""
ctl heal >/dev/null || fail "heal"
wait_until 20 "a leader after the heal" converged
grep -q . "$DIR/capture" || fail "the proxy captured nothing"
# logged N: datagrams captured on their way to node N.
logged() { awk -v i="$(($1 - 1))" '$1 == i' "$DIR/capture" | wc -l; }
want="$(logged 1) $(logged 2) $(logged 3)"
# shellcheck disable=SC2086
nobody_sends replay "$want" replayed replay "$DIR/capture" $PORTS

# ... and to a node restarted since the capture (no window for the sender).
ctl kill 2 >/dev/null || fail "kill 2"
ctl start 2 >/dev/null || fail "start 2"
wait_until 20 "node 2 back" converged
awk '$1 == 1' "$DIR/capture" >"$DIR/capture2"
chmod 644 "$DIR/capture2"
# shellcheck disable=SC2086
nobody_sends replay "0 $(logged 2) 0" "restarted node 2's replayed" \
    replay "$DIR/capture2" $PORTS
echo "replayed to node 2 after its restart: $(logged 2) dropped as replay"

# 3. A forged reply cannot make a client report success.
mkdir -m 700 "$DIR/fake"
cp -p "$DIR/client.key" "$DIR/fake/"
printf 'cluster %s\n1 127.0.0.1:%s\n' "$CID" "$(port 24821)" >"$DIR/fake/cluster.conf"
(cd / && exec "${AS_NOBODY[@]}" /usr/bin/python3 "$FORGE" fakenode "$CID" \
    "$(port 24821)" 1000) >"$DIR/fake.out" 2>&1 &
FAKE=$!
fake_ready() { grep -q "^ready$" "$DIR/fake.out" 2>/dev/null; }
wait_until 10 "the fake node" fake_ready
out=$("$RAFTCTL" -d "$DIR/fake" put victim forged --timeout 1500 2>&1)
rc=$?
kill "$FAKE"
wait "$FAKE" 2>/dev/null
FAKE=""
grep -q "answered [1-9]" "$DIR/fake.out" || fail "the fake node saw no request: $(cat "$DIR/fake.out")"
[ "$rc" = 3 ] || fail "put answered only by forged replies: exit $rc, '$out' (want 3)"
echo "$out" | grep -q "^OK" && fail "put printed OK on forged replies"

# The client's history and the cluster's state: unchanged by all of it.
stop_writer
n_acked=$(wc -l <"$DIR/acked")
check_acked w
for k in forged victim; do
    ctl get "$k" >/dev/null 2>&1 && fail "key $k exists: a forged request was applied"
done
[ "$(ctl get captured)" = yes ] || fail "the captured put"
wait_until 20 "every node applied everything" converged
compare_kv
echo "acknowledged writes read back: $n_acked"

# 4. A key file of mode 0644 is refused with the documented line.
chmod 644 "$DIR/fake/client.key"
out=$("$RAFTCTL" -d "$DIR/fake" get x 2>&1)
rc=$?
[ "$rc" = 4 ] || fail "0644 client.key: exit $rc (want 4): $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "0644 client.key: not one line: $out"
echo "$out" | grep -q "key file .*/client.key has mode 0644, readable by group or others: run chmod 600 on it" ||
    fail "0644 client.key: $out"

# 5. down, kill and partition by nobody stop nothing and exit non-zero.
pids_alive() {
    for f in "$DIR"/node*.pid "$DIR/launcher.pid"; do
        kill -0 "$(cat "$f")" 2>/dev/null || return 1
    done
}
chmod 700 "$DIR"
out=$(nobody "$BIN/raftctl" -d "$DIR" down 2>&1)
rc=$?
[ "$rc" = 4 ] || fail "down by nobody (no access to DIR): exit $rc: $out"
echo "down by nobody without access to DIR: exit $rc: $out"
pids_alive || fail "down by nobody stopped something"
# Now nobody may read cluster.conf, the pid files and client.key (not
# cluster.key): it is a client of this cluster, and still may not stop it.
chmod 711 "$DIR"
chmod 644 "$DIR/cluster.conf" "$DIR"/node*.pid "$DIR/launcher.pid"
chown nobody "$DIR/client.key"
out=$(nobody "$BIN/raftctl" -d "$DIR" down 2>&1)
rc=$?
echo "down by nobody: exit $rc: $out"
[ "$rc" = 4 ] || fail "down by nobody: exit $rc: $out"
echo "$out" | grep -q "no permission to stop .* runs as user root, not nobody; nothing was stopped" ||
    fail "down by nobody: $out"
out=$(nobody "$BIN/raftctl" -d "$DIR" kill 1 2>&1)
rc=$?
[ "$rc" = 4 ] && echo "$out" | grep -q "no permission" || fail "kill by nobody: exit $rc: $out"
out=$(nobody "$BIN/raftctl" -d "$DIR" partition 1 2,3 2>&1)
rc=$?
[ "$rc" = 4 ] && echo "$out" | grep -q "need cluster.key" || fail "partition by nobody: exit $rc: $out"
[ "$(nobody "$BIN/raftctl" -d "$DIR" get captured)" = yes ] || fail "nobody as a client"
pids_alive || fail "nobody's down, kill or partition stopped something"
chown root "$DIR/client.key"
chmod 600 "$DIR/cluster.conf" "$DIR"/node*.pid "$DIR/launcher.pid"
chmod 700 "$DIR"
ctl put after nobody >/dev/null || fail "put after nobody's commands"
echo "ok"
