"""Saves the live stream of `raftctl web` (/events, Server-Sent Events) as a
recording: each "data:" line, one JSON object per line, flushed as it
comes, until SIGTERM. Usage: capture.py PORT TOKEN OUT.jsonl."""
import http.client
import signal
import sys

port, token, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("GET", f"/events?token={token}")
r = c.getresponse()
with open(out, "w") as f:
    while True:
        line = r.readline().decode()
        if not line:
            break
        if line.startswith("data: "):
            f.write(line[6:].rstrip("\n") + "\n")
            f.flush()
