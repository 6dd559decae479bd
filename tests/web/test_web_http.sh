#!/usr/bin/env bash
# raftctl web without a browser: every request needs the token (a kill
# without it leaves the leader running), malformed, oversized and unknown
# requests get 4xx, the server listens on 127.0.0.1 only
# (tests/web/http_check.py), and a write through the page's endpoint
# commits, and a page that opens after 111 control events gets the last
# 100 whole. Port base 22620 (nodes 22621-22629, web 22655); nine members
# so that the snapshot passes a connection's 16 KiB buffer.
. "$(dirname "$0")/../proc/lib.sh"
. "$(dirname "$0")/web_lib.sh"

up_detached 22620 -n 9
wait_until 15 "a leader" has_one_leader
WEB_PORT=$(port 22655)
web_start "$WEB_PORT"
TOKEN=$WEB_TOKEN
LEADER=$(leader_id)
TERM_BEFORE=$(status_py "max(n['term'] for n in alive)")
python3 "$(dirname "$0")/http_check.py" "$WEB_PORT" "$TOKEN" "$LEADER" ||
    fail "the HTTP checks failed"
# Nothing changed: the same leader in the same term, all nine up.
[ "$(leader_id)" = "$LEADER" ] || fail "the leader changed after refused requests"
[ "$(status_py "max(n['term'] for n in alive)")" = "$TERM_BEFORE" ] ||
    fail "the term changed after refused requests"
[ "$(status_py "len(alive)")" = 9 ] || fail "a node died after refused requests"
[ "$(ctl get web-key 2>/dev/null)" = "" ] || fail "web-key exists before the write"
# A write through the page's endpoint commits (raftctl put underneath).
python3 - "$WEB_PORT" "$TOKEN" <<'PY' || fail "the write control failed"
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
c.request("POST", f"/api/write?token={sys.argv[2]}&key=web-key&value=from%20the%20page")
r = c.getresponse()
j = json.loads(r.read())
assert r.status == 200 and j["ok"] and j["code"] == 0, j
print("ok: write through /api/write:", j["output"].strip())
PY
[ "$(ctl get web-key)" = "from the page" ] || fail "web-key was not written"
echo "ok: raftctl get web-key reads the page's write"
# A page that opens after 111 control events gets the last 100, the newest
# included, although the snapshot is larger than a connection's buffer.
python3 "$(dirname "$0")/snapshot_check.py" "$WEB_PORT" "$TOKEN" ||
    fail "the snapshot lost events"
