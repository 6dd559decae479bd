#!/usr/bin/env python3
"""Datagrams an unprivileged local user can send, for tests/proc/test_auth_user.sh.

It holds no key: it writes the msgpack messages of common/wire.c by hand and
puts them behind no envelope, behind an envelope with a random tag (cluster
class), and behind one with a random tag claiming the client class.

  forge.py forge CLUSTER_ID PORT...        every message type to each node
  forge.py proxy LOG LISTEN:TO...          forward (and log) client <-> node
  forge.py replay LOG PORT...              resend each logged client datagram
  forge.py fakenode CLUSTER_ID PORT COUNT  answer requests with forged OK replies

forge, replay and fakenode print one line of counts and exit 1 when a node
answered anything (a forged or replayed datagram was read). The proxy runs
until killed; its log holds one line per datagram a client sent:
"INDEX HEX" (INDEX: which LISTEN:TO pair).
"""
import os
import select
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
VERSION = 1
ENVELOPE = 46  # common/auth.h: magic, class, sender, epoch, counter, sent, tag.

# common/msg.h
VOTE, APPEND, SNAPSHOT, TIMEOUT_NOW = 1, 3, 5, 7
CLIENT, CLIENT_REPLY, STATUS, STATUS_REPLY, FAULT = 8, 9, 10, 11, 12
CLIENT_BATCH = 16
PUT, OK = 1, 0
PARTITION, DISK_DELAY = 2, 4


def pack(v):
    """The msgpack of v: ints (unsigned), bools, bytes (bin), lists."""
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if v < 0x80:
            return bytes([v])
        for code, fmt, top in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF),
                               (0xCE, ">I", 0xFFFFFFFF)):
            if v <= top:
                return bytes([code]) + struct.pack(fmt, v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, bytes):
        if len(v) < 256:
            return b"\xc4" + bytes([len(v)]) + v
        return b"\xc5" + struct.pack(">H", len(v)) + v
    if isinstance(v, list):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else \
            b"\xdc" + struct.pack(">H", len(v))
        return head + b"".join(pack(x) for x in v)
    raise TypeError(v)


def message(cluster, mtype, frm, to, term, body):
    return pack([VERSION, cluster, mtype, frm, to, term] + body)


def forged_messages(cluster, to):
    """One well-formed message of every type an outsider would forge, from
    member 1 (or 2 when sent to 1), with terms far ahead."""
    frm = 2 if to == 1 else 1
    big = 1 << 40
    client = 0x0BADC0DE00000000 | to
    req = [client, 1, PUT, b"forged", b"by-nobody", b""]
    return {
        "fault control (partition)": message(cluster, FAULT, 0, to, 0,
                                             [PARTITION, [frm], 0, 0, 0, 0]),
        "fault control (disk delay)": message(cluster, FAULT, 0, to, 0,
                                              [DISK_DELAY, [], 0, 0, 60000, 0]),
        "client request": message(cluster, CLIENT, 0, to, 0, req),
        "client batch": message(cluster, CLIENT_BATCH, 0, to, 0,
                                [[message(cluster, CLIENT, 0, to, 0, req)]]),
        "client reply": message(cluster, CLIENT_REPLY, to, 0, 0,
                                [client, 1, OK, 0, b""]),
        "vote": message(cluster, VOTE, frm, to, big, [big, big, False, False]),
        "append": message(cluster, APPEND, frm, to, big,
                          [big, big, big, 0, [[big, 1, b"forged entry"]]]),
        "timeout now": message(cluster, TIMEOUT_NOW, frm, to, big, []),
        "snapshot chunk": message(cluster, SNAPSHOT, frm, to, big,
                                  [big, big, 0, True, b"forged", 6]),
        "status": message(cluster, STATUS, 0, to, 0, [12345]),
    }


def envelope(cls):
    """An envelope of class cls with plausible fields and a random tag."""
    epoch = (int(time.time() * 1000) << 16) | 7
    return (bytes([0xA5, cls]) + struct.pack(">QQQI", 1, epoch, 1, 5) +
            os.urandom(16))


def answered(sock, seconds):
    """Datagrams that came back within seconds."""
    n = 0
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return n
        sock.recv(65536)
        n += 1


def cmd_forge(cluster, ports):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    per_node = 0
    for i, port in enumerate(ports):
        msgs = forged_messages(cluster, i + 1)
        for body in msgs.values():
            for wrap in (b"", envelope(0), envelope(1)):
                sock.sendto(wrap + body, (HOST, port))
                time.sleep(0.001)
        per_node = 3 * len(msgs)
    replies = answered(sock, 1.0)
    print("forge: %d datagrams to each of %d nodes (%s; bare, random tag, "
          "random client tag); replies %d" %
          (per_node, len(ports), ", ".join(forged_messages(cluster, 1)),
           replies))
    return 1 if replies else 0


def cmd_proxy(log_path, pairs):
    socks = []
    for pair in pairs:
        listen, to = (int(x) for x in pair.split(":"))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((HOST, listen))
        socks.append((s, to))
    last = {}
    with open(log_path, "a") as log:
        print("ready", flush=True)
        while True:
            ready, _, _ = select.select([s for s, _ in socks], [], [])
            for s in ready:
                i = [x for x, _ in socks].index(s)
                to = socks[i][1]
                data, addr = s.recvfrom(65536)
                if addr[1] == to:
                    if i in last:
                        s.sendto(data, last[i])
                else:
                    last[i] = addr
                    log.write("%d %s\n" % (i, data.hex()))
                    log.flush()
                    s.sendto(data, (HOST, to))


def cmd_replay(log_path, ports):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    for line in open(log_path):
        i, data = line.split()
        sock.sendto(bytes.fromhex(data), (HOST, ports[int(i)]))
        n += 1
        time.sleep(0.001)
    replies = answered(sock, 1.0)
    print("replay: resent %d captured datagrams; replies %d" % (n, replies))
    return 1 if replies else 0


def cmd_fakenode(cluster, port, count):
    """Answers the first count requests to port with forged OK replies
    (bare and with random tags), as an outsider racing a real node."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, port))
    print("ready", flush=True)
    answered_n = 0
    while answered_n < count:
        data, addr = sock.recvfrom(65536)
        body = data[ENVELOPE:]
        # [version, cluster, type, from, to, term, client_id, seq, ...]:
        # read client_id and seq from a client request's msgpack.
        ints, pos = [], 1
        while len(ints) < 8 and pos < len(body):
            b = body[pos]
            if b < 0x80:
                ints.append(b)
                pos += 1
            else:
                size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(b)
                if size is None:
                    break
                ints.append(int.from_bytes(body[pos + 1:pos + 1 + size], "big"))
                pos += 1 + size
        if len(ints) < 8 or ints[2] != CLIENT:
            continue
        reply = message(cluster, CLIENT_REPLY, ints[4], 0, 0,
                        [ints[6], ints[7], OK, 0, b""])
        for wrap in (b"", envelope(0), envelope(1)):
            sock.sendto(wrap + reply, addr)
        answered_n += 1
        print("fakenode: answered %d requests with forged OK replies" %
              answered_n, flush=True)
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "forge":
        return cmd_forge(int(argv[2], 16), [int(p) for p in argv[3:]])
    if cmd == "proxy":
        return cmd_proxy(argv[2], argv[3:])
    if cmd == "replay":
        return cmd_replay(argv[2], [int(p) for p in argv[3:]])
    if cmd == "fakenode":
        return cmd_fakenode(int(argv[2], 16), int(argv[3]), int(argv[4]))
    sys.exit("usage: see the top of forge.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
