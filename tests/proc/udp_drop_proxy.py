#!/usr/bin/env python3
"""UDP proxy for process tests: listens on 127.0.0.1:LISTEN for each
LISTEN=TARGET pair, forwards datagrams to 127.0.0.1:TARGET and the answers
back, and drops the first fault reply (MSG_FAULT_REPLY) each client socket
gets: a raftctl request whose first answer is lost, so its resend is
answered. Counts the drops in COUNT_FILE (rewritten on each drop).

Usage: udp_drop_proxy.py COUNT_FILE FAULT_REPLY_TYPE LISTEN=TARGET...
"""
import select
import socket
import sys


def msg_type(buf):
    """The message type of a wire datagram: msgpack array [version,
    cluster id, type, ...] (common/wire.c), after the 46-byte auth
    envelope that starts with 0xA5 (common/auth.h); None when unreadable."""
    if buf[:1] == b"\xa5":
        buf = buf[46:]
    pos = 0

    def read_uint():
        nonlocal pos
        b = buf[pos]
        pos += 1
        if b < 0x80:
            return b
        size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(b)
        if size is None:
            raise ValueError("not an unsigned int")
        v = int.from_bytes(buf[pos:pos + size], "big")
        pos += size
        return v

    try:
        b = buf[0]
        if 0x90 <= b <= 0x9F:
            pos = 1
        elif b == 0xDC:
            pos = 3
        elif b == 0xDD:
            pos = 5
        else:
            return None
        read_uint()  # version
        read_uint()  # cluster id
        return read_uint()
    except (IndexError, ValueError):
        return None


def main():
    count_file = sys.argv[1]
    fault_reply = int(sys.argv[2])
    pairs = []
    for arg in sys.argv[3:]:
        listen, target = (int(p) for p in arg.split("="))
        front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        front.bind(("127.0.0.1", listen))
        back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        back.bind(("127.0.0.1", 0))
        pairs.append({"front": front, "back": back,
                      "target": ("127.0.0.1", target), "client": None})
    dropped_for = set()
    n_dropped = 0
    socks = {}
    for p in pairs:
        socks[p["front"]] = (p, True)
        socks[p["back"]] = (p, False)
    while True:
        ready, _, _ = select.select(list(socks), [], [])
        for s in ready:
            p, is_front = socks[s]
            buf, addr = s.recvfrom(65536)
            if is_front:
                p["client"] = addr
                p["back"].sendto(buf, p["target"])
                continue
            client = p["client"]
            if client is None:
                continue
            if msg_type(buf) == fault_reply and client not in dropped_for:
                dropped_for.add(client)
                n_dropped += 1
                with open(count_file, "w") as f:
                    f.write("%d\n" % n_dropped)
                continue
            p["front"].sendto(buf, client)


if __name__ == "__main__":
    main()
