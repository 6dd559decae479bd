"""HTTP checks of `raftctl web` (tests/web/test_web_http.sh): the token is
required (403, and nothing changes), malformed, oversized and unknown
requests get 4xx, the stream starts with the meta line, and the server
listens on 127.0.0.1 only. Usage: http_check.py PORT TOKEN LEADER_ID.
Prints one line per check; exit 1 with a FAIL line."""
import http.client
import json
import socket
import sys

PORT, TOKEN, LEADER = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def fail(msg):
    print(f"FAIL (http): {msg}", file=sys.stderr)
    sys.exit(1)


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def expect(method, path, want, body=None, what=""):
    status, data = request(method, path, body)
    if status != want:
        fail(f"{method} {path[:60]}: {status} {data[:120]!r}, wanted {want}")
    print(f"ok: {what or method + ' ' + path[:50]} -> {status}")
    return data


T = "token=" + TOKEN
WRONG = "token=" + ("0" * 32 if TOKEN != "0" * 32 else "1" * 32)
# The token is required, everywhere.
expect("GET", "/", 403, what="page without token")
expect("GET", "/?" + WRONG, 403, what="page with a wrong token")
expect("GET", "/?token=" + TOKEN[:-1], 403, what="page with a short token")
expect("GET", "/events", 403, what="stream without token")
expect("POST", f"/api/kill?id={LEADER}", 403, what="kill without token")
expect("POST", f"/api/kill?id={LEADER}&{WRONG}", 403,
       what="kill with a wrong token")
expect("POST", "/api/heal", 403, what="heal without token")
expect("GET", "/nope", 403, what="unknown path without token")
# With it: the page and the info.
page = expect("GET", "/?" + T, 200, what="page with the token")
if b'id="ring"' not in page or b"<script>" not in page:
    fail("the page lacks its ring or its inlined script")
info = json.loads(expect("GET", "/info?" + T, 200))
if info.get("mode") != "live":
    fail(f"/info says {info}")
# Malformed, oversized, unknown: 4xx.
expect("GET", "/nope?" + T, 404, what="unknown path")
expect("POST", "/api/nope?" + T, 404, what="unknown control")
expect("GET", "/api/kill?id=1&" + T, 405, what="control by GET")
expect("DELETE", "/?" + T, 405, what="page by DELETE")
expect("POST", "/api/kill?" + T, 400, what="kill without id")
expect("POST", "/api/kill?id=99&" + T, 400, what="kill of no member")
expect("POST", "/api/kill?id=1x&" + T, 400, what="kill of a malformed id")
expect("POST", "/api/kill?id=1&bogus=2&" + T, 400, what="unknown argument")
expect("POST", "/api/write?key=&" + T, 400, what="write of an empty key")
expect("POST", "/api/write?key=" + "k" * 300 + "&" + T, 400,
       what="write of a 300-byte key")
expect("POST", "/api/heal?" + T, 400, body=b"x=1", what="control with a body")
expect("POST", "/api/heal?" + T, 413, body=b"x" * 5000,
       what="5000-byte body")
status, _ = request("GET", "/" + "a" * 20000 + "?" + T)
if not 400 <= status < 500:
    fail(f"a 20000-byte URL got {status}")
print(f"ok: 20000-byte URL -> {status}")
status, _ = request("GET", "/?" + T, headers={"X-Big": "b" * 20000})
if not 400 <= status < 500:
    fail(f"a 20000-byte header got {status}")
print(f"ok: 20000-byte header -> {status}")


def raw(data):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(data)
    reply = s.recv(200)
    s.close()
    return reply


for data, what in ((b"GET /?" + T.encode() + b" HTTP/1.1\r\nno colon\r\n\r\n",
                    "a header line without a colon"),
                   (b"POST /api/heal?" + T.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: abc\r\n\r\n", "a malformed Content-Length")):
    reply = raw(data)
    if not reply.startswith(b"HTTP/1.1 4"):
        fail(f"{what} got {reply[:40]!r}")
    print(f"ok: {what} -> {reply[9:12].decode()}")
# A request line that is not HTTP at all: libmicrohttpd closes the
# connection without an answer (nothing is done either way).
reply = raw(b"GARBAGE\r\n\r\n")
if reply and not reply.startswith(b"HTTP/1.1 4"):
    fail(f"a garbage request line got {reply[:40]!r}")
print("ok: garbage request line -> " + (reply[9:12].decode() if reply
                                       else "connection closed"))
# The stream: the meta line first.
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
c.request("GET", "/events?" + T)
r = c.getresponse()
if r.status != 200 or r.getheader("Content-Type") != "text/event-stream":
    fail(f"/events: {r.status} {r.getheader('Content-Type')}")
first = r.readline().decode()
c.close()
if not first.startswith("data: ") or json.loads(first[6:]).get("k") != "meta":
    fail(f"the stream starts with {first[:80]!r}")
print("ok: the stream starts with the meta line")
# Listening sockets on PORT: 127.0.0.1 only (/proc/net/tcp, tcp6).
listeners = []
for path in ("/proc/net/tcp", "/proc/net/tcp6"):
    with open(path) as f:
        next(f)
        for row in f:
            local, state = row.split()[1], row.split()[3]
            addr, port = local.split(":")
            if int(port, 16) == PORT and state == "0A":
                listeners.append(addr)
if listeners != ["0100007F"]:
    fail(f"listeners on port {PORT}: {listeners} (want only 127.0.0.1)")
print(f"ok: port {PORT} listens on 127.0.0.1 only ({path} and tcp)")
