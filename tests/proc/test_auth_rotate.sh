#!/usr/bin/env bash
# Key rotation without downtime, by the steps of docs/AUTH.md, while a
# client writes: (1) append a new key to cluster.key and client.key and
# restart the members one by one; (2) put the new keys first and restart
# them again; (3) drop the old keys and restart them once more. Every
# step sees writes acknowledged, none fails, every acknowledged write
# reads back, the launcher reloads the files and keeps hearing the
# members, and at the end a client holding only the old client key is
# refused (counted bad_tag).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

up_detached 24900 -n 3
wait_until 10 "a leader" has_one_leader

newkey() {
    python3 -c "import secrets; print(secrets.token_hex(32))"
}
# setkeys FILE LINE...: FILE holds the lines, mode 0600.
setkeys() {
    local f=$1
    shift
    printf '%s\n' "$@" >"$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f" ||
        fail "cannot write $f"
}
# restart_all STEP: restarts the members one by one, each back in the
# cluster before the next goes.
restart_all() {
    local id
    for id in 1 2 3; do
        ctl kill "$id" >/dev/null || fail "step $1: kill $id"
        ctl start "$id" >/dev/null || fail "step $1: start $id"
        wait_until 30 "step $1: node $id back, one leader, all applied" converged
    done
}
acked() { wc -l <"$DIR/acked"; }
# more_acked N: the writer has acknowledged more than N writes.
more_acked() { [ "$(acked)" -gt "$1" ]; }
bad_tags() {
    ctl status --drops --json | python3 -c "
import json, sys
print(sum(n['drops']['bad_tag'] for n in json.load(sys.stdin)))"
}

# A client writing all along: one-shot puts, each reading the key files
# as they are at that moment.
start_writer r
wait_until 20 "the first acknowledged write" more_acked 0

OLD_CLUSTER=$(head -1 "$DIR/cluster.key")
OLD_CLIENT=$(head -1 "$DIR/client.key")
NEW_CLUSTER=$(newkey)
NEW_CLIENT=$(newkey)

step=0
for keys in "old new" "new old" "new"; do
    step=$((step + 1))
    cluster_lines=() client_lines=()
    for k in $keys; do
        if [ "$k" = old ]; then
            cluster_lines+=("$OLD_CLUSTER") client_lines+=("$OLD_CLIENT")
        else
            cluster_lines+=("$NEW_CLUSTER") client_lines+=("$NEW_CLIENT")
        fi
    done
    log_from=$(wc -l <"$DIR/launcher.log")
    setkeys "$DIR/cluster.key" "${cluster_lines[@]}"
    setkeys "$DIR/client.key" "${client_lines[@]}"
    n=$(acked)
    restart_all "$step"
    # The launcher (a process that lives through the rotation) reloaded
    # the files and still hears the members: it saw a leader elected.
    tail -n +"$((log_from + 1))" "$DIR/launcher.log" >"$DIR/step.log"
    grep -q "key files changed: the launcher uses the new keys" "$DIR/step.log" ||
        fail "step $step: the launcher did not reload the keys"
    grep -q "leader is node" "$DIR/step.log" ||
        fail "step $step: the launcher saw no leader: $(tail -5 "$DIR/step.log")"
    wait_until 20 "step $step: writes acknowledged during it" more_acked "$n"
    [ -s "$DIR/failed" ] && fail "step $step ($keys): writes failed: $(tail -3 "$DIR/failed.txt")"
    echo "step $step (keys: $keys): members restarted, $(($(acked) - n)) writes acknowledged meanwhile"
done
[ "$(stat -c %a "$DIR/cluster.key") $(stat -c %a "$DIR/client.key")" = "600 600" ] ||
    fail "key files lost mode 0600"

# The old client key is refused now; the new one is served.
mkdir -m 700 "$DIR/old"
cp "$DIR/cluster.conf" "$DIR/old/"
setkeys "$DIR/old/client.key" "$OLD_CLIENT"
bad0=$(bad_tags)
out=$("$RAFTCTL" -d "$DIR/old" put stale key --timeout 1000 2>&1)
rc=$?
[ "$rc" = 3 ] || fail "a client with the old key: exit $rc (want 3): $out"
more_bad() { [ "$(bad_tags)" -gt "$bad0" ]; }
wait_until 10 "the old key's datagrams counted bad_tag" more_bad
ctl get stale >/dev/null 2>&1 && fail "the old key's put was applied"

stop_writer
[ -s "$DIR/failed" ] && fail "writes failed: $(tail -3 "$DIR/failed.txt")"
check_acked r
echo "acknowledged writes, all read back: $(acked); failed: 0"
echo "ok"
