#!/usr/bin/env bash
# Membership requests whose first answer is lost (docs/MEMBERSHIP.md): a
# UDP proxy in front of every member (udp_drop_proxy.py) drops the first
# fault reply each raftctl socket gets, so the leader's "started" never
# arrives and the resend is answered "refused" (the change is in
# progress, or done). promote, remove and transfer through the proxy must
# still exit 0, and the configuration (read around the proxy) must be the
# one asked for. One drop per command is checked, so the path is taken.
. "$(dirname "$0")/lib.sh"

up_detached 23500 -n 3
wait_until 10 "a leader" has_one_leader
learner=$(ctl add --learner | tail -1) || fail "add --learner"

# DIR/proxy: the same cluster.conf (and cluster id), each member's port
# moved to its proxy port (its own + 20).
mkdir -m 700 "$DIR/proxy"
pairs=()
while read -r id addr rest; do
    case "$id" in
        [0-9]*)
            p=${addr##*:}
            echo "$id 127.0.0.1:$((p + 20))" >>"$DIR/proxy/cluster.conf"
            pairs+=("$((p + 20))=$p")
            ;;
        *) echo "$id $addr $rest" >>"$DIR/proxy/cluster.conf" ;;
    esac
done <"$DIR/cluster.conf"
for k in client.key cluster.key; do
    cp -p "$DIR/$k" "$DIR/proxy/$k" || fail "no $k"
done
fault_reply=13 # MSG_FAULT_REPLY (common/msg.h)
python3 "$(dirname "$0")/udp_drop_proxy.py" "$DIR/dropped" "$fault_reply" \
    "${pairs[@]}" &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null; proc_cleanup' EXIT
pctl() { "$RAFTCTL" -d "$DIR/proxy" "$@"; }
dropped() { cat "$DIR/dropped" 2>/dev/null || echo 0; }
role_of() {
    ctl members --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(next((m['role'] for m in d['members'] if m['id'] == $1), 'none'))"
}
wait_until 5 "the proxy answers status" pctl status

pctl promote "$learner" >"$DIR/out" 2>&1 || fail "promote through a lost reply: $(cat "$DIR/out")"
[ "$(dropped)" = 1 ] || fail "the proxy dropped $(dropped) replies, want 1"
[ "$(role_of "$learner")" = voter ] || fail "node $learner is $(role_of "$learner")"
ctl put k1 v1 >/dev/null || fail "put after promote"

f=$(follower_id)
pctl remove "$f" >"$DIR/out" 2>&1 || fail "remove through a lost reply: $(cat "$DIR/out")"
[ "$(dropped)" = 2 ] || fail "the proxy dropped $(dropped) replies, want 2"
[ "$(role_of "$f")" = none ] || fail "node $f is still $(role_of "$f")"
ctl kill "$f" >/dev/null 2>&1
ctl put k2 v2 >/dev/null || fail "put after remove"

l=$(leader_id)
t=$(status_py "[n['id'] for n in alive if n['role'] == 'follower' and n['id'] != $f][0]")
pctl transfer "$t" >"$DIR/out" 2>&1 || fail "transfer through a lost reply: $(cat "$DIR/out")"
[ "$(dropped)" = 3 ] || fail "the proxy dropped $(dropped) replies, want 3"
[ "$(leader_id)" = "$t" ] || fail "leader is $(leader_id), want $t (was $l)"
ctl put k3 v3 >/dev/null || fail "put after transfer"

# A real refusal is still one: removing an unknown id.
pctl remove 99 >/dev/null 2>&1
[ $? = 4 ] || fail "removing an unknown id through the proxy: not refused with 4"
for k in 1 2 3; do
    [ "$(ctl get "k$k")" = "v$k" ] || fail "k$k lost"
done
echo "ok"
