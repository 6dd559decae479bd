#!/usr/bin/env python3
"""Drives `raftctl watch` in a pseudo-terminal (100x30), as a user would.

Usage: watch_pty.py RAFTCTL DIR DUMPFILE

The dashboard writes each frame's text to DUMPFILE (RAFTCTL_WATCH_DUMP, a
testing hook: the same cells it draws; tests/proc/pty_view.py). The script
reads the leader from the screen, presses k and the leader's id, and waits
for a new leader to appear on screen (title, panel, event feed); presses t
and a and waits for `raftctl transfer` and `raftctl add` to report in the
feed, and for the added member's panel (watch follows the configuration);
presses m and waits for the messages pane with a leader's message, and m
again for it to go; then presses q and checks that raftctl exits 0 and left the alternate
screen. Exit 0 on success, 1 with a message otherwise.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pty_view import PtyView  # noqa: E402


def main():
    raftctl, cluster_dir, dump = sys.argv[1:4]
    v = PtyView("watch_pty", [raftctl, "-d", cluster_dir, "watch"], dump)
    try:
        def title_leader(s):
            m = re.match(r" raft watch .*leader n(\d+)", s)
            return m and re.search(r"^ n%s  leader " % m.group(1), s,
                                   re.M) and int(m.group(1))
        old = v.wait("a leader on screen", title_leader, 15)
        if "--- events, newest first" not in v.screen():
            v.fail("no event feed on screen")
        v.key(b"k")
        v.pump(0.2)
        v.key(str(old).encode())

        def new_leader(s):
            m = re.match(r" raft watch .*leader n(\d+)", s)
            if not m or int(m.group(1)) == old:
                return None
            new = int(m.group(1))
            ok = (re.search(r"^ n%d  down " % old, s, re.M) and
                  re.search(r"^ n%d  leader " % new, s, re.M) and
                  "leader is node %d (term" % new in s)
            return ok and new
        new = v.wait("node %d down and a new leader" % old, new_leader, 15)
        if not re.search(r"k%d: node %d \(pid \d+\) died signal=9" % (old, old),
                         v.screen()):
            v.fail("the kill's outcome is not in the feed")
        # t and a run raftctl transfer and add in the background; their
        # last output lines reach the feed.
        v.key(b"t")
        v.wait("the transfer's outcome in the feed",
               lambda s: re.search(r"t: transfer: node \d+ leads .*"
                                   r"\(exit 0\)", s), 30)
        v.key(b"a")
        added = v.wait("the add's outcome in the feed",
                       lambda s: re.search(r"a: node (\d+) added", s), 60)
        # The member added while watch runs gets a panel of its own.
        n_added = int(added.group(1))
        v.wait("a panel for node %d, added while watch runs" % n_added,
               lambda s: re.search(r"^ n%d  (follower|learner|leader) "
                                   % n_added, s, re.M), 15)
        # m shows the messages the members send (a trace lease on each),
        # and m again hides them.
        v.key(b"m")
        v.wait("the messages pane with a leader's message",
               lambda s: "--- messages, newest first" in s and
               re.search(r"^ [0-9:.]{12} \d+->\d+ (heartbeat|append)",
                         s, re.M), 15)
        v.key(b"m")
        v.wait("the messages pane gone",
               lambda s: "--- messages" not in s, 10)
        v.quit()
        print("ok: killed leader n%d on screen; n%d took over; t moved "
              "leadership; a added node %s, which got a panel; m showed "
              "and hid the messages" % (old, new, added.group(1)))
    finally:
        v.kill()


main()
