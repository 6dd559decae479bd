#!/usr/bin/env bash
# Issue 18's add figure: a 3-node cluster is filled by `raftctl bench -c 64
# --sequential` over KEYS keys (default 1,000,000) for up to SECONDS (default
# 150) or until every key is written once, then `raftctl add` is timed until
# it returns (the new member is a voter), with the snapshot install its log
# shows. A benchmark, not a test.
# Usage: [PORT=27700] [RAFTCTL=build/bin/raftctl] tests/bench/add_time.sh [SECONDS] [KEYS]
set -euo pipefail
SECS=${1:-150}
KEYS=${2:-1000000}
PORT=${PORT:-27700}
R=${RAFTCTL:-build/bin/raftctl}
D=$(mktemp -d -t raft-addtime.XXXXXX)
trap '"$R" -d "$D" down >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
"$R" -d "$D" up -n 3 --port "$PORT" --detach >/dev/null
"$R" -d "$D" bench -c 64 --sequential --duration "$SECS" --keys "$KEYS" |
    grep -i "writes\|ops" | head -3 || true
leader=$("$R" -d "$D" status --json | python3 -c "import json,sys
print([n['id'] for n in json.load(sys.stdin) if n['role'] == 'leader'][0])")
echo "distinct keys: $(sqlite3 -readonly "$D/node$leader.db" 'SELECT count(*) FROM kv')"
t0=$(date +%s%N)
id=$("$R" -d "$D" add | tail -1)
echo "add: node $id a voter in $((($(date +%s%N) - t0) / 1000000)) ms"
"$R" -d "$D" members
grep -h "receiving snapshot\|installed snapshot index" "$D/node$id.log" || true
