#!/usr/bin/env bash
# Keys (docs/AUTH.md): raftctl up makes cluster.key and client.key 0600 in
# a 0700 DIR; datagrams forged by tests/lin/hostile.c with the client key
# (peer types and fault control: wrong_key_type), with random keys and with
# no envelope (bad_tag) are all refused and counted, and the forged
# partitions change nothing; a key file of mode 0644 makes raftctl and
# raftnode refuse with one line naming the file and the fix.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jepsen_lib.sh"

up_detached 23900
wait_until 10 "a leader" has_one_leader
ctl put before forged --timeout 5000 >/dev/null || fail "put before"
[ "$(stat -c %a "$DIR")" = 700 ] || fail "DIR is $(stat -c %a "$DIR"), want 700"
for f in cluster.key client.key node1.db node1.log; do
    [ "$(stat -c %a "$DIR/$f")" = 600 ] || fail "$f is $(stat -c %a "$DIR/$f"), want 600"
done
before=$(status_py "' '.join('%d:%d:%d' % (n['id'], n['pid'], n['term']) for n in d)")

for k in client wrong none; do
    "$BIN/hostile" --config "$DIR/cluster.conf" --keys "$k" --seconds 1 \
        --rate 2000 --seed 7 >"$DIR/hostile.$k" || jfail "hostile --keys $k failed"
done
grep -q "forged fault controls" "$DIR/hostile.client" || fail "no forged fault control sent"
ctl status --drops
ctl status --drops --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
bad = [(n['id'], r) for n in d for r in ('bad_tag', 'wrong_key_type')
       if not n['alive'] or n['drops'][r] == 0]
sys.exit('no drops counted for (node, reason): %s' % bad if bad else 0)
" || fail "forged datagrams were not counted"
after=$(status_py "' '.join('%d:%d:%d' % (n['id'], n['pid'], n['term']) for n in d)")
[ "$before" = "$after" ] || fail "term or process changed (before: $before; after: $after)"
# A forged partition honoured would leave a node without the leader.
ctl put after forged --timeout 5000 >/dev/null || fail "put after the forgeries"
applied_equal() { [ "$(status_py "len(set(n['applied'] for n in d))")" = 1 ]; }
wait_until 5 "every node applied the write" applied_equal

chmod 644 "$DIR/client.key"
out=$(ctl get after --timeout 2000 2>&1) && fail "raftctl used a 0644 client.key: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "not one line: $out"
echo "$out" | grep -q "client.key.*chmod 600" || fail "line lacks the file and the fix: $out"
chmod 600 "$DIR/client.key"
chmod 644 "$DIR/cluster.key"
"$BIN/raftnode" --id 1 --config "$DIR/cluster.conf" --db "$DIR/x.db" \
    >/dev/null 2>"$DIR/err" && fail "raftnode started with a 0644 cluster.key"
[ "$(wc -l <"$DIR/err")" = 1 ] || fail "raftnode: not one line: $(cat "$DIR/err")"
grep -q "cluster.key.*chmod 600" "$DIR/err" || fail "raftnode: $(cat "$DIR/err")"
[ ! -e "$DIR/x.db" ] || fail "raftnode created a database without its keys"
chmod 600 "$DIR/cluster.key"
[ "$(ctl get after --timeout 5000)" = forged ] || fail "get after restoring modes"
echo "ok"
