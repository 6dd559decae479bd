#!/usr/bin/env bash
# Issue 16's catch-up figure: follower 3 is killed while `raftctl bench -c 64`
# writes KEYS keys (default 1,000,000) in order (--sequential, so it misses
# every one of them once SECONDS suffice) for SECONDS (default 50, or
# CATCHUP_SECONDS); then it starts again and the time until its applied
# index reaches the leader's commit is printed, with the snapshot installs
# its log shows. A benchmark, not a test.
# Usage: [PORT=27600] [CATCHUP_SECONDS=50] tests/bench/catch_up.sh [SECONDS] [KEYS]
set -euo pipefail
SECS=${1:-${CATCHUP_SECONDS:-50}}
KEYS=${2:-1000000}
PORT=${PORT:-27600}
R=${RAFTCTL:-build/bin/raftctl}
D=$(mktemp -d -t raft-catchup.XXXXXX)
trap '"$R" -d "$D" down >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
"$R" -d "$D" up -n 3 --port "$PORT" --detach >/dev/null
"$R" -d "$D" kill 3 >/dev/null
"$R" -d "$D" bench -c 64 --sequential --duration "$SECS" --keys "$KEYS" >/dev/null 2>&1
field() { # field ID KEY: one member's status --json value
    "$R" -d "$D" status --json | python3 -c "import json,sys
d = {n['id']: n for n in json.load(sys.stdin)}
print(d[$1]['$2'] or 0)"
}
commit=$(field 1 commit)
t0=$(date +%s%N)
"$R" -d "$D" start 3 >/dev/null
deadline=$(($(date +%s) + 120))
until [ "$(field 3 applied)" -ge "$commit" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "not caught up in 120 s"; exit 1; }
    sleep 0.1
done
echo "caught up to commit $commit in $((($(date +%s%N) - t0) / 1000000)) ms"
echo "distinct keys: $(sqlite3 -readonly "$D/node1.db" 'SELECT count(*) FROM kv')"
grep -h "receiving snapshot\|installed snapshot index" "$D/node3.log" || true
# Each transfer's rate: image bytes over first chunk to installed.
python3 - "$D/node3.log" <<'PY'
import re, sys
from datetime import datetime
t = lambda l: datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f")
start = None
for l in open(sys.argv[1]):
    m = re.search(r"receiving snapshot index=(\d+) .*bytes=(\d+)", l)
    if m:
        start, size = t(l), int(m.group(2))
    elif "installed snapshot index=" in l and start:
        s = (t(l) - start).total_seconds()
        print("snapshot %.1f MB received and installed in %.2f s: %.1f MB/s"
              % (size / 1e6, s, size / 1e6 / s))
PY
