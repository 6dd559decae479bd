#!/usr/bin/env python3
"""Drives `raftctl watch` in a pseudo-terminal (100x30), as a user would.

Usage: watch_pty.py RAFTCTL DIR DUMPFILE

The dashboard writes each frame's text to DUMPFILE (RAFTCTL_WATCH_DUMP, a
testing hook: the same cells it draws). The script reads the leader from
the screen, presses k and the leader's id, and waits for a new leader to
appear on screen (title, panel, event feed); presses t and a and waits
for `raftctl transfer` and `raftctl add` to report in the feed, and for
the added member's panel (watch follows the configuration); then presses
q and checks
that raftctl exits 0 and left the alternate screen. It always drains the
terminal output so the dashboard never blocks on a full pty, and kills
only the child it started. Exit 0 on success, 1 with a message otherwise.
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

ROWS, COLS = 30, 100


def fail(msg, screen=""):
    sys.stderr.write("FAIL (watch_pty): %s\n--- last screen:\n%s\n"
                     % (msg, screen))
    sys.exit(1)


def main():
    raftctl, cluster_dir, dump = sys.argv[1:4]
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ,
                    struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm", RAFTCTL_WATCH_DUMP=dump)
        os.execve(raftctl, [raftctl, "-d", cluster_dir, "watch"], env)
    raw = bytearray()

    def pump(seconds):
        """Reads the terminal for up to `seconds`; False once it closed."""
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return True
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                raw.extend(data)

    def screen():
        try:
            with open(dump) as f:
                return f.read()
        except OSError:
            return ""

    def wait_screen(what, pred, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            s = screen()
            m = pred(s)
            if m:
                return m
            if not pump(0.1):
                fail("raftctl watch exited while waiting for " + what,
                     screen())
        fail("timed out after %ds waiting for %s" % (seconds, what),
             screen())

    reaped = []
    try:
        def title_leader(s):
            m = re.match(r" raft watch .*leader n(\d+)", s)
            return m and re.search(r"^ n%s  leader " % m.group(1), s,
                                   re.M) and int(m.group(1))
        old = wait_screen("a leader on screen", title_leader, 15)
        if "--- events, newest first" not in screen():
            fail("no event feed on screen", screen())
        os.write(fd, b"k")
        pump(0.2)
        os.write(fd, str(old).encode())

        def new_leader(s):
            m = re.match(r" raft watch .*leader n(\d+)", s)
            if not m or int(m.group(1)) == old:
                return None
            new = int(m.group(1))
            ok = (re.search(r"^ n%d  down " % old, s, re.M) and
                  re.search(r"^ n%d  leader " % new, s, re.M) and
                  "leader is node %d (term" % new in s)
            return ok and new
        new = wait_screen("node %d down and a new leader" % old, new_leader,
                          15)
        s = screen()
        if not re.search(r"k%d: node %d \(pid \d+\) died signal=9" % (old, old),
                         s):
            fail("the kill's outcome is not in the feed", s)
        if b"\x1b[?1049h" not in raw:
            fail("the dashboard did not switch to the alternate screen", s)
        # t and a run raftctl transfer and add in the background; their
        # last output lines reach the feed.
        os.write(fd, b"t")
        wait_screen("the transfer's outcome in the feed",
                    lambda s: re.search(r"t: transfer: node \d+ leads .*"
                                        r"\(exit 0\)", s), 30)
        os.write(fd, b"a")
        added = wait_screen("the add's outcome in the feed",
                            lambda s: re.search(r"a: node (\d+) added", s), 60)
        # The member added while watch runs gets a panel of its own.
        n_added = int(added.group(1))
        wait_screen("a panel for node %d, added while watch runs" % n_added,
                    lambda s: re.search(r"^ n%d  (follower|learner|leader) "
                                        % n_added, s, re.M), 15)
        # m shows the messages the members send (a trace lease on each),
        # and m again hides them.
        os.write(fd, b"m")
        wait_screen("the messages pane with a leader's message",
                    lambda s: "--- messages, newest first" in s and
                    re.search(r"^ [0-9:.]{12} \d+->\d+ (heartbeat|append)",
                              s, re.M), 15)
        os.write(fd, b"m")
        wait_screen("the messages pane gone",
                    lambda s: "--- messages" not in s, 10)
        s = screen()
        os.write(fd, b"q")
        deadline = time.time() + 10
        status = None
        while time.time() < deadline:
            pump(0.1)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                reaped.append(pid)
                break
        else:
            fail("raftctl watch did not exit after q", s)
        pump(0.2)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            fail("raftctl watch exited with status %r" % status, s)
        if b"\x1b[?1049l" not in raw[-200:]:
            fail("the terminal was not restored (no rmcup at the end)", s)
        print("ok: killed leader n%d on screen; n%d took over; t moved "
              "leadership; a added node %s, which got a panel; m showed "
              "and hid the messages" % (old, new, added.group(1)))
    finally:
        if not reaped:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


main()
