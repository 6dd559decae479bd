#!/usr/bin/env bash
# status --json: one array, exactly the documented keys with the documented
# types (disk: "ok", "full" or "hung"); a node that is down has alive
# false and null for the rest.
. "$(dirname "$0")/lib.sh"

up_detached 21500
wait_until 10 "a leader" has_one_leader
f=$(follower_id)
ctl kill "$f" >/dev/null || fail "kill $f"
ctl status --json >"$DIR/status.json" || fail "status --json exit code"
python3 - "$DIR/status.json" "$f" <<'PY' || fail "status --json shape"
import json, sys
d = json.load(open(sys.argv[1]))
down = int(sys.argv[2])
keys = {"id", "addr", "pid", "alive", "role", "term", "leader", "commit",
        "last_index", "applied", "disk"}
assert isinstance(d, list) and len(d) == 5, d
for n in d:
    assert set(n) == keys, n
    assert type(n["id"]) is int and type(n["addr"]) is str, n
    assert type(n["alive"]) is bool, n
    if n["id"] == down:
        assert n["alive"] is False, n
        for k in keys - {"id", "addr", "alive"}:
            assert n[k] is None, (k, n)
        continue
    assert n["alive"] is True, n
    assert n["role"] in ("leader", "follower", "candidate"), n
    for k in ("pid", "term", "commit", "last_index", "applied"):
        assert type(n[k]) is int, (k, n)
    assert n["leader"] is None or type(n["leader"]) is int, n
    assert n["disk"] == "ok", n
assert sum(1 for n in d if n["role"] == "leader") == 1, d
PY
# The table (not the JSON) has a last SNAP column: "-" before any
# compaction, and for the node that is down.
ctl status >"$DIR/status.txt" || fail "status exit code"
python3 - "$DIR/status.txt" <<'PY' || fail "status table shape"
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()]
assert rows[0][-1] == "SNAP", rows[0]
assert len(rows) == 6, rows
for r in rows[1:]:
    assert len(r) == len(rows[0]) and r[-1] == "-", r
PY
echo "ok"
