"""The snapshot a page gets when it opens /events is whole
(tests/web/test_web_http.sh): after more than 100 control events, a new
reader gets the last 100 events, the newest included, before any live
line. Usage: snapshot_check.py PORT TOKEN. Exit 1 with a FAIL line."""
import http.client
import json
import sys
import time

PORT, TOKEN = int(sys.argv[1]), sys.argv[2]
STARTS = 110


def fail(msg):
    print(f"FAIL (snapshot): {msg}", file=sys.stderr)
    sys.exit(1)


def post(action, query=""):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    c.request("POST", f"/api/{action}?token={TOKEN}{query}")
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        fail(f"POST /api/{action}: {r.status} {body[:120]!r}")


# More events than the snapshot keeps, the newest a distinct one.
# "web start: ... node 1 is already running (pid P)": long enough that 100
# of them pass the connection's 16 KiB buffer; they change nothing.
for _ in range(STARTS):
    post("start", "&id=1")
post("heal")

c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
c.request("GET", f"/events?token={TOKEN}")
r = c.getresponse()
if r.status != 200:
    fail(f"GET /events: {r.status}")
events, size, deadline = [], 0, time.monotonic() + 20
while time.monotonic() < deadline:
    raw = r.readline()
    if not raw:
        fail("the stream ended")
    size += len(raw)
    line = raw.decode().strip()
    if not line.startswith("data: "):
        continue
    o = json.loads(line[6:])
    if o.get("k") == "event":
        events.append(o.get("text", ""))
        if o.get("text", "").startswith("web heal"):
            break
c.close()
if not events or not events[-1].startswith("web heal"):
    fail(f"the newest event never arrived ({len(events)} events, "
         f"{size} bytes read)")
# The last 100 events end with the heal (unless the cluster said something
# after it), and at least 90 of them are the starts.
starts = sum(1 for e in events if e.startswith("web start"))
if len(events) != 100 or starts < 90:
    fail(f"{len(events)} events in the snapshot ({starts} starts), wanted "
         f"100 ({size} bytes read): {[e for e in events if not e.startswith('web start')]}")
print(f"ok: a new page gets the last 100 events, the newest included "
      f"({size} bytes of snapshot)")
