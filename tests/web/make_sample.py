"""Writes a small synthetic recording in the shared format (docs/WEB.md):
five members, node 1 times out at 1 s and wins term 1 with four votes,
replicates three entries with heartbeats, and a deliberately broken rule
shows as a violation at 3 s. Input for the replay test of `raftctl web`;
real recordings come from `raftctl up --record` and `raftsim --record`.
With --hostile FILE instead: two members whose numeric fields hold HTML
(tests/web/page_check.py hostile checks it shows as text)."""
import json
import sys

HB = 50
out = []


def line(**kw):
    out.append(kw)


def status(t, i, role, term, last, commit, timer, timeout, leader=0, vote=0):
    line(t=t, k="status", id=i, up=True, role=role, term=term, vote=vote,
         leader=leader, commit=commit, applied=commit, last=last, snap=0,
         timer_ms=timer, timeout_ms=timeout, tail_first=1 if last else 0,
         tail=[1] * last, peers=[{"id": p, "match": last, "next": last + 1}
                                 for p in range(1, 6) if p != i]
         if role == "leader" else [], disk="ok")


def hostile(path):
    bad = '<img src=x onerror="window.pwned=1">'
    lines = [
        dict(t=0, k="meta", v=1, source="sim",
             members=[{"id": 1, "addr": "sim:1"}, {"id": 2, "addr": "sim:2"}],
             heartbeat_ms=bad, election_ms=[bad, bad]),
        dict(t=100, k="status", id=1, up=True, role="leader", term=1, vote=1,
             leader=1, commit=bad, applied=1, last=bad, snap=0, timer_ms=0,
             timeout_ms=1000, tail_first=1, tail=[1],
             peers=[{"id": 2, "match": bad, "next": bad}], disk="ok"),
        dict(t=100, k="status", id=2, up=True, role="follower", term=1,
             vote=1, leader=1, commit=1, applied=1, last=1, snap=0,
             timer_ms=0, timeout_ms=1000, tail_first=1, tail=[bad], peers=[],
             disk="ok"),
    ]
    with open(path, "w") as f:
        for o in lines:
            f.write(json.dumps(o, separators=(",", ":")) + "\n")
    sys.exit(0)


if sys.argv[1] == "--hostile":
    hostile(sys.argv[2])
line(t=0, k="meta", v=1, source="sim", seed=7,
     members=[{"id": i, "addr": f"sim:{i}"} for i in range(1, 6)],
     heartbeat_ms=HB, election_ms=[150 * 7, 300 * 7])
timeouts = {1: 1000, 2: 1500, 3: 1700, 4: 1900, 5: 2000}
for t in range(0, 1000, 100):
    for i in range(1, 6):
        status(t, i, "follower", 0, 0, 0, t, timeouts[i])
line(t=1000, k="event", kind="election", id=1,
     text="node 1 timed out and started an election for term 1")
for p in range(2, 6):
    line(t=1000, k="msg", **{"from": 1}, to=p, type="vote", term=1, index=0,
         n=0, bytes=40)
    line(t=1002, k="msg", **{"from": p}, to=1, type="vote_reply", term=1,
         index=0, n=0, ok=True, bytes=30)
    line(t=1003, k="event", kind="vote", id=p,
         text=f"node {p} votes for node 1 in term 1")
line(t=1005, k="event", kind="leader", id=1,
     text="leader is node 1 (term 1), votes from 1 2 3 4 5")
last = 0
for t in range(1010, 3500, HB):
    if t in (1510, 2010, 2510):
        last += 1
    for p in range(2, 6):
        line(t=t, k="msg", **{"from": 1}, to=p, type="append", term=1,
             index=max(0, last - 1), n=1 if t in (1510, 2010, 2510) else 0,
             bytes=60)
        line(t=t + 1, k="msg", **{"from": p}, to=1, type="append_reply",
             term=1, index=last, n=0, ok=True, bytes=30)
    if t % 100 == 10:
        for i in range(1, 6):
            status(t, i, "leader" if i == 1 else "follower", 1, last, last,
                   0 if i == 1 else (t - 1010) % HB, timeouts[i], leader=1,
                   vote=1)
line(t=3000, k="violation",
     text="election safety: two leaders in term 1 (1 and 3)")
with open(sys.argv[1], "w") as f:
    for o in out:
        f.write(json.dumps(o, separators=(",", ":")) + "\n")
