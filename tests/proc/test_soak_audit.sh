#!/usr/bin/env bash
# The acknowledged-writes audit of make soak (soak_audit.py) on a made-up
# history and two members' kv tables: node1 holds a correct final state
# (an acknowledged write replaced by one whose outcome is unknown counts as
# replaced), node2 lost an overwrite, a del and a put; the audit must count
# exactly those 3.
set -u
AUDIT="$(dirname "$0")/soak_audit.py"
DIR=$(mktemp -d /tmp/raft-soak-audit.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cat >"$DIR/hist-r1.txt" <<'H'
1 100 200 put r1_k0 r1_v1.1 ok
2 300 400 put r1_k0 r1_v2.1 ok
1 500 - put r1_k1 r1_v1.2 unknown
2 600 700 put r1_k1 r1_v2.2 ok
3 800 900 put r1_k2 r1_v3.1 ok
3 1000 1100 del r1_k2 ok
4 100 200 put r1_k3 r1_v4.1 ok
4 300 400 cas r1_k3 r1_v4.1 r1_v4.2 fail
1001 2000 2100 get r1_k0 ok r1_v2.1
H
mk() { # mk ID SQL: a member's kv table
    sqlite3 "$DIR/node$1.db" "CREATE TABLE kv(key TEXT PRIMARY KEY, value BLOB); $2"
}
mk 1 "INSERT INTO kv VALUES ('r1_k0', 'r1_v2.1'), ('r1_k1', 'r1_v1.2'),
      ('r1_k3', 'r1_v4.1');"
mk 2 "INSERT INTO kv VALUES ('r1_k0', 'r1_v1.1'), ('r1_k1', 'r1_v1.2'),
      ('r1_k2', 'r1_v3.1');"
out=$(python3 "$AUDIT" "$DIR" 2) || { echo "FAIL: the audit failed: $out"; exit 1; }
echo "$out"
[ "$(echo "$out" | grep -c '^node1')" = 0 ] || { echo "FAIL: node1 is correct"; exit 1; }
[ "$(echo "$out" | grep -c '^node2: lost')" = 3 ] || { echo "FAIL: node2 lost 3"; exit 1; }
echo "$out" | grep -qx "acked 6 lost 3" || { echo "FAIL: expected 'acked 6 lost 3'"; exit 1; }
echo "$out" | grep -qx "ops 8 answered 7 unknown 1 put 6 get 0 del 1 cas 1" ||
    { echo "FAIL: wrong op counts"; exit 1; }
echo ok
