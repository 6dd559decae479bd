#!/usr/bin/env bash
# Issue 17, command line: an impossible timer pair is a usage error before
# anything exists; raftnode --help is a readable multi-line usage; status
# shows an isolated member as precandidate (the JSON keeps its documented
# "candidate"); each leader is logged once; a cluster.conf that lost a
# member's line is refused (exit 4) and nothing starts.
. "$(dirname "$0")/lib.sh"

# Usage errors first: exit 2, one line, nothing created.
"$RAFTCTL" -d "$DIR/new" up --heartbeat 1000 --election 10 --detach \
    >/dev/null 2>"$DIR/err"
rc=$?
[ "$rc" = 2 ] || fail "up --heartbeat 1000 --election 10 exited $rc"
grep -q -- "--election (10 ms) must be longer than --heartbeat (1000 ms)" \
    "$DIR/err" || fail "message: $(cat "$DIR/err")"
[ "$(wc -l <"$DIR/err")" = 1 ] || fail "not one line: $(cat "$DIR/err")"
[ ! -e "$DIR/new" ] || fail "up left $DIR/new behind"

RAFTNODE="$(dirname "$RAFTCTL")/raftnode"
"$RAFTNODE" --help >"$DIR/help" 2>&1 || fail "raftnode --help exit code"
[ "$(wc -l <"$DIR/help")" -ge 15 ] || fail "raftnode --help: $(cat "$DIR/help")"
awk 'length > 80 { exit 1 }' "$DIR/help" || fail "raftnode --help: a line over 80"
for o in --id --config --db --create --heartbeat --election --log-level; do
    grep -q -- "^  $o" "$DIR/help" || fail "raftnode --help lacks $o"
done

up_detached 22500 -n 3
wait_until 20 "a leader" has_one_leader
leader=$(leader_id)
f=$(follower_id)
others=$(status_py "','.join(str(n['id']) for n in d if n['id'] != $f)")
ctl partition "$f" "$others" >/dev/null || fail "partition"
is_pre() {
    ctl status | awk -v id="$f" '$1 == id { print $5 }' | grep -qx precandidate
}
wait_until 20 "node $f shown as precandidate" is_pre
[ "$(status_py "by_id[$f]['role']")" = candidate ] ||
    fail "status --json role of node $f: $(status_py "by_id[$f]['role']")"
ctl heal >/dev/null || fail "heal"
follows() {
    [ "$(status_py "by_id[$f]['role']")" = follower ]
}
wait_until 20 "node $f follows again" follows
ctl kill "$leader" >/dev/null || fail "kill $leader"
wait_until 20 "a new leader" has_new_leader "$leader"
ctl down >/dev/null || fail "down"
# Each change of leader is one line: in launcher.log, and in each node's
# log (the core's "leader is nX": never twice in a row without a timeout,
# a new term or a step down between).
dups=$(grep -o "leader is node [0-9]* (term [0-9]*)" "$DIR/launcher.log" |
    sort | uniq -d)
[ -z "$dups" ] || fail "launcher.log repeats: $dups"
for i in 1 2 3; do
    dups=$(grep -o "leader is n[0-9]*\|election timeout\|newer term\|stepped down\|became leader" \
        "$DIR/node$i.log" | uniq -d | grep "leader is")
    [ -z "$dups" ] || fail "node$i.log repeats: $dups"
done

# A member's line deleted from cluster.conf: refused, nothing started.
sed -i '/^3 /d' "$DIR/cluster.conf"
ctl up --detach >/dev/null 2>"$DIR/err"
rc=$?
[ "$rc" = 4 ] || fail "up without member 3's line exited $rc"
grep -q "does not list member 3\|not member 3" "$DIR/err" ||
    fail "message: $(cat "$DIR/err")"
[ "$(wc -l <"$DIR/err")" = 1 ] || fail "not one line: $(cat "$DIR/err")"
[ ! -s "$DIR/launcher.pid" ] || fail "a launcher started"
ls "$DIR"/node*.pid >/dev/null 2>&1 && fail "a node started"
echo "ok"
