#!/usr/bin/env bash
# A malformed cluster.conf is reported with its file name and line number,
# by status and by up, and up starts nothing.
. "$(dirname "$0")/lib.sh"

cat >"$DIR/cluster.conf" <<CONF
# a comment
1 127.0.0.1:$(port 21901)
2 127.0.0.1:$(port 21902)
3 127.0.0.1:notaport
CONF
out=$(ctl status 2>&1)
rc=$?
[ "$rc" = 4 ] || fail "status exited $rc, want 4"
echo "$out" | grep -q "cluster.conf:4" || fail "status message: $out"
out=$(ctl up --detach 2>&1)
[ $? != 0 ] || fail "up with a bad cluster.conf succeeded"
echo "$out" | grep -q "cluster.conf:4" || fail "up message: $out"
ls "$DIR"/node*.pid >/dev/null 2>&1 && fail "up started nodes"
echo "ok"
