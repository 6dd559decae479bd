#!/usr/bin/env bash
# raftctl check: all members agree (exit 0); a follower whose kv row was
# changed together with a matching crc (a well-formed divergence, which only
# the comparison can find) is named (exit 4); a member whose row fails its
# checksum is found damaged by the digest itself (exit 4); a member that is
# down gives exit 3; bad arguments exit 2 (docs/DAMAGE.md).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 shell is not installed (make deps)"
up_detached 22900 -n 3
wait_until 10 "a leader" has_one_leader
for i in $(seq 1 20); do
    ctl put "k$i" "v$i" >/dev/null || fail "put k$i"
done
out=$(ctl check) || fail "check on a healthy cluster: $out"
[ "$(echo "$out" | grep -c 'digest')" = 3 ] || fail "check printed: $out"
ctl check extra >/dev/null 2>&1; [ $? = 2 ] || fail "check extra: not a usage error"
ctl check --timeout 0 >/dev/null 2>&1; [ $? = 2 ] || fail "check --timeout 0: not a usage error"

# row_crc of kv (TEXT key, TEXT value): storage/row_crc.c's encoding.
crc_kv() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
t = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    t.append(c)
def crc(data, c=0):
    c ^= 0xFFFFFFFF
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
c = 0
for f in sys.argv[1:]:
    b = f.encode()
    c = crc(bytes([4]) + struct.pack('<I', len(b)) + b, c)
print(c)
PY
}
q() { sqlite3 -cmd ".timeout 2000" "$DIR/node$1.db" "$2" 2>/dev/null; }
[ "$(q 1 "SELECT crc FROM kv WHERE key = 'k1'")" = "$(crc_kv k1 v1)" ] ||
    fail "the test's crc disagrees with the node's"

f=$(follower_id)
stored() { [ "$(q "$f" "SELECT value FROM kv WHERE key = 'k20'")" = v20 ]; }
wait_until 20 "k20 stored on node $f" stored
ctl kill "$f" >/dev/null || fail "kill $f"
q "$f" "UPDATE kv SET value = 'v9', crc = $(crc_kv k5 v9) WHERE key = 'k5'"
ctl start "$f" >/dev/null || fail "start $f"
out=$(ctl check --timeout 3000); rc=$?
[ $rc = 4 ] || fail "check with a diverged member: exit $rc, want 4: $out"
echo "$out" | grep -q "member $f: .*DIFFERS" || fail "member $f not named: $out"

# A row that fails its checksum: the digest finds it, the member stops.
ctl kill "$f" >/dev/null || fail "kill $f"
q "$f" "UPDATE kv SET value = 'evil' WHERE key = 'k7'"
ctl start "$f" >/dev/null || fail "start $f"
out=$(ctl check --timeout 3000); rc=$?
[ $rc = 4 ] || fail "check with a damaged member: exit $rc, want 4: $out"
echo "$out" | grep -q "member $f: damaged" || fail "member $f not damaged: $out"
is_damaged() { [ "$(status_py "by_id[$f]['role']")" = damaged ]; }
wait_until 10 "node $f shown damaged" is_damaged
out=$(ctl check --timeout 1000); rc=$?
[ $rc = 4 ] || fail "check after the damage: exit $rc, want 4: $out"

# A member that is simply down: no answer, exit 3.
others=$(status_py "[n['id'] for n in alive if n['role'] != 'leader']")
o=$(status_py "[n['id'] for n in alive if n['role'] != 'leader'][0] if len(alive) > 1 else ''")
[ -n "$o" ] || fail "no second follower: $others"
mv "$DIR/node$f.db.damaged" "$DIR/node$f.db.kept" # Not damaged: absent.
ctl kill "$o" >/dev/null || fail "kill $o"
out=$(ctl check --timeout 1000); rc=$?
[ $rc = 3 ] || fail "check with members down: exit $rc, want 3: $out"
echo "ok"
