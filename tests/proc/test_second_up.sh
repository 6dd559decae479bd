#!/usr/bin/env bash
# A second `up` on a running directory fails with the launcher's pid; after
# down, down again says the cluster is not running.
. "$(dirname "$0")/lib.sh"

up_detached 21800
out=$(ctl up --detach 2>&1)
rc=$?
[ "$rc" != 0 ] || fail "second up --detach succeeded"
echo "$out" | grep -q "is already running (launcher pid $LAUNCHER_PID)" || fail "message: $out"
out=$(ctl up 2>&1)
[ $? != 0 ] || fail "second foreground up succeeded"
echo "$out" | grep -q "already running" || fail "message: $out"
[ "$(status_py "len(alive)")" = 5 ] || fail "the first cluster was disturbed"
ctl down >/dev/null || fail "down"
out=$(ctl down 2>&1) || fail "second down failed"
echo "$out" | grep -q "not running" || fail "second down: $out"
echo "ok"
