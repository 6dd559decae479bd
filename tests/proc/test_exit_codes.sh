#!/usr/bin/env bash
# Exit codes: 0 ok, 1 negative answer, 2 usage (also an unknown node id and
# an oversized key or value, refused before sending), 4 other errors (also
# a kill that leaves the node running).
. "$(dirname "$0")/lib.sh"

expect() { # expect CODE COMMAND...: runs raftctl, checks its exit code
    local want=$1
    shift
    "$RAFTCTL" "$@" >/dev/null 2>"$DIR/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "raftctl $* exited $rc, want $want: $(cat "$DIR/err")"
}

expect 2
expect 2 frobnicate
expect 2 -d "$DIR" put onlykey
expect 2 -d "$DIR" get k --bogus
expect 2 -d "$DIR" get k --timeout notanumber
expect 4 -d "$DIR/none" status
grep -q "no cluster at" "$DIR/err" || fail "missing-cluster message: $(cat "$DIR/err")"
expect 2 -d "$DIR" watch --no-such-option

# raftnode: a wrong command line is one line on stderr naming the problem,
# exit 2, and nothing created.
RAFTNODE="$(dirname "$RAFTCTL")/raftnode"
node_usage() { # node_usage WANT_SUBSTRING ARGS...
    local want=$1
    shift
    "$RAFTNODE" "$@" >/dev/null 2>"$DIR/err"
    local rc=$?
    [ "$rc" = 2 ] || fail "raftnode $* exited $rc, want 2"
    [ "$(wc -l <"$DIR/err")" = 1 ] || fail "raftnode $*: not one line: $(cat "$DIR/err")"
    grep -q -- "$want" "$DIR/err" || fail "raftnode $*: '$(cat "$DIR/err")' lacks '$want'"
}
node_usage "unknown option --bogus" --bogus 1
node_usage "unknown option --bogus" --bogus
node_usage "--id needs a value" --id
node_usage "--id needs a member id" --id x --config c --db "$DIR/x.db"
node_usage "unexpected argument foo" foo
node_usage "are required" --id 1 --config c
[ ! -e "$DIR/x.db" ] || fail "raftnode created a database on a usage error"

up_detached 21600
wait_until 10 "a leader" has_one_leader
expect 0 -d "$DIR" put k v
expect 0 -d "$DIR" get k
expect 0 -d "$DIR" put --timeout 3000 k2 v2
expect 0 -d "$DIR" get k2 --timeout 3000
expect 1 -d "$DIR" get absent
expect 1 -d "$DIR" cas k wrong new
expect 1 -d "$DIR" cas absent x y
expect 0 -d "$DIR" cas k v new
[ "$(ctl get k)" = new ] || fail "cas did not swap"
expect 0 -d "$DIR" del k
expect 1 -d "$DIR" get k

key1024=$(head -c 1024 /dev/zero | tr '\0' k)
val32768=$(head -c 32768 /dev/zero | tr '\0' v)
expect 0 -d "$DIR" put "$key1024" small
expect 0 -d "$DIR" put big "$val32768"
[ "$(ctl get big | wc -c)" = 32769 ] || fail "32768-byte value did not round-trip"
expect 2 -d "$DIR" put "${key1024}k" small
grep -q "1025 bytes; the limit is 1024" "$DIR/err" || fail "key message: $(cat "$DIR/err")"
[ "$(wc -l <"$DIR/err")" = 1 ] || fail "error is not one line"
expect 2 -d "$DIR" put big2 "${val32768}v"
grep -q "32769 bytes; the limit is 32768" "$DIR/err" || fail "value message"
expect 2 -d "$DIR" get "${key1024}k"

expect 2 -d "$DIR" kill 9
expect 2 -d "$DIR" kill 1 --signal NOPE
expect 4 -d "$DIR" start 1
grep -q "already running" "$DIR/err" || fail "start message: $(cat "$DIR/err")"
# A node that outlives its kill (stopped, so TERM waits) is not reported
# killed: exit 4, naming it; CONT then lets the TERM end it.
expect 0 -d "$DIR" kill 2 --signal STOP
expect 4 -d "$DIR" kill 2 --signal TERM
grep -q "node 2 (pid [0-9]*), but it is still running" "$DIR/err" ||
    fail "kill of a stopped node: $(cat "$DIR/err")"
expect 0 -d "$DIR" kill 2 --signal CONT
expect 0 -d "$DIR" kill 1
expect 4 -d "$DIR" kill 1
grep -q "not running" "$DIR/err" || fail "kill message: $(cat "$DIR/err")"
echo "ok"
