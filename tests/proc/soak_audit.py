#!/usr/bin/env python3
"""The acknowledged-writes audit of make soak (tests/proc/soak.sh).

usage: soak_audit.py DIR N, or soak_audit.py DIR ID,ID,... (the members)

Reads every DIR/hist-r*.txt (tests/lin/lin_history.h format; procs from
1000 up are the final reads and are skipped) and the kv table of each
DIR/node1.db .. nodeN.db (or of the listed members). Values are unique per write, so a key's final
value names the write that made it (a missing key: one of its dels). A
write acknowledged OK is lost when it is not that write and every write
that could have made the final state returned before it was invoked (so it
came after them, and nothing after it replaced it). Prints one line per
lost write, then "ops ..." and "acked A lost L" lines.
"""
import glob, sqlite3, sys
d = sys.argv[1]
ids = ([int(i) for i in sys.argv[2].split(",")] if "," in sys.argv[2]
       else range(1, int(sys.argv[2]) + 1))
INF = float("inf")
ops = {"put": 0, "get": 0, "del": 0, "cas": 0}
answered = unknown = 0
writes = {}     # key -> list of (call, ret, value or None for del, acked)
by_value = {}   # (key, value) -> the write that wrote it
for path in sorted(glob.glob(d + "/hist-r*.txt")):
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        proc, call, ret, op, key = int(f[0]), int(f[1]), f[2], f[3], f[4]
        if proc >= 1000:
            continue  # The final reads.
        ops[op] += 1
        outcome = f[-2] if op == "get" and f[-2] == "ok" else f[-1]
        if outcome == "unknown":
            unknown += 1
        else:
            answered += 1
        ret = INF if ret == "-" else int(ret)
        if op == "get" or outcome == "fail":
            continue
        value = None if op == "del" else f[6] if op == "cas" else f[5]
        w = (call, ret, value, outcome == "ok")
        writes.setdefault(key, []).append(w)
        if value is not None:
            by_value[(key, value)] = w
acked = sum(w[3] for ws in writes.values() for w in ws)
lost = 0
for node in ids:
    db = sqlite3.connect("file:%s/node%d.db?mode=ro" % (d, node), uri=True)
    kv = {}
    for k, v in db.execute("SELECT key, value FROM kv"):
        k = k.decode() if isinstance(k, bytes) else k
        kv[k] = v.decode() if isinstance(v, bytes) else v
    for key, ws in writes.items():
        final = kv.get(key)
        if final is not None:
            x = by_value.get((key, final))
            if x is None:
                print("node%d: %s = %s, a value no write wrote" % (node, key, final))
                lost += sum(w[3] for w in ws)
                continue
            makers = [x]
        else:
            makers = [w for w in ws if w[2] is None]
        for w in ws:
            # Lost: acknowledged, yet every write that could have made the
            # final state returned before it was invoked.
            if w[3] and w not in makers and all(m[1] < w[0] for m in makers):
                lost += 1
                print("node%d: lost %s %s (call %d ret %d); final %s" %
                      (node, key, w[2] or "del", w[0], w[1], final))
print("ops %d answered %d unknown %d put %d get %d del %d cas %d" %
      (sum(ops.values()), answered, unknown, ops["put"], ops["get"],
       ops["del"], ops["cas"]))
print("acked %d lost %d" % (acked, lost))
