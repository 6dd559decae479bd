#!/usr/bin/env python3
"""Drives `raftctl replay FILE` in a pseudo-terminal (100x30), as a user would.

Usage: replay_pty.py RAFTCTL RECORDING DUMPFILE

The replay writes each frame's text to DUMPFILE (RAFTCTL_WATCH_DUMP, the
dashboard's testing hook). The script reads the title (the moment, the
length, the speed, playing or paused) and checks each key: it plays from
the start; space pauses (the moment stays); . steps to a later moment;
End and Home go to the end and the start; + and - change the speed within
0.1x..10x; g 1 Enter jumps to 1 s; right and left arrows move 5 s; q
quits with exit 0 and gives the terminal back. Always drains the
terminal; kills only the child it started.
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
TITLE = re.compile(r" raft replay \S+ \((?:live|sim seed 0x[0-9a-f]+)\)  "
                   r"(\d+)\.(\d{3})/(\d+)\.(\d{3}) s  (\d+\.\d)x "
                   r"(playing|paused)")


def fail(msg, screen=""):
    sys.stderr.write("FAIL (replay_pty): %s\n--- last screen:\n%s\n"
                     % (msg, screen))
    sys.exit(1)


def main():
    raftctl, recording, dump = sys.argv[1:4]
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ,
                    struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm", RAFTCTL_WATCH_DUMP=dump)
        os.execve(raftctl, [raftctl, "replay", recording], env)
    raw = bytearray()

    def pump(seconds):
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

    def title():
        """(moment ms, length ms, speed, state) from the title, or None."""
        m = TITLE.match(screen())
        if not m:
            return None
        return (int(m.group(1)) * 1000 + int(m.group(2)),
                int(m.group(3)) * 1000 + int(m.group(4)), m.group(5),
                m.group(6))

    def wait_title(what, pred, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            t = title()
            if t and pred(t):
                return t
            if not pump(0.05):
                fail("raftctl replay exited while waiting for " + what,
                     screen())
        fail("timed out after %ds waiting for %s" % (seconds, what),
             screen())

    def key(b):
        os.write(fd, b)

    reaped = []
    try:
        first = wait_title("playing", lambda t: t[3] == "playing")
        wait_title("time moving", lambda t: t[0] > first[0])
        length = first[1]
        if length < 2000:
            fail("recording too short for the test: %d ms" % length)
        key(b" ")
        paused = wait_title("paused", lambda t: t[3] == "paused")
        pump(0.5)
        if title()[0] != paused[0]:
            fail("the moment moved while paused", screen())
        key(b".")
        stepped = wait_title("a step", lambda t: t[0] > paused[0])
        if stepped[3] != "paused" or stepped[0] - paused[0] > 1000:
            fail("a step went from %d to %d" % (paused[0], stepped[0]),
                 screen())
        key(b"\x1bOF")  # End (xterm, keypad mode)
        wait_title("the end", lambda t: t[0] == length)
        key(b"\x1bOH")  # Home
        wait_title("the start", lambda t: t[0] == 0)
        key(b"+")
        wait_title("2.0x", lambda t: t[2] == "2.0")
        key(b"+")
        wait_title("5.0x", lambda t: t[2] == "5.0")
        key(b"+++++")
        wait_title("10.0x at most", lambda t: t[2] == "10.0")
        key(b"-" * 10)
        wait_title("0.1x at least", lambda t: t[2] == "0.1")
        key(b"g")
        pump(0.1)
        key(b"1\r")
        wait_title("1 s", lambda t: t[0] == 1000)
        right = min(6000, length)
        key(b"\x1bOC")  # Right
        wait_title("%d ms" % right, lambda t: t[0] == right)
        key(b"\x1bOD")  # Left
        wait_title("%d ms" % (right - 5000 if right > 5000 else 0),
                   lambda t: t[0] == (right - 5000 if right > 5000 else 0))
        s = screen()
        if "--- events, newest first (from the recording)" not in s:
            fail("no event feed on screen", s)
        key(b"q")
        deadline = time.time() + 10
        status = None
        while time.time() < deadline:
            pump(0.1)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                reaped.append(pid)
                break
        else:
            fail("raftctl replay did not exit after q", s)
        pump(0.2)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            fail("raftctl replay exited with status %r" % status, s)
        if b"\x1b[?1049l" not in raw[-200:]:
            fail("the terminal was not restored (no rmcup at the end)", s)
        print("ok: replay keys: play, pause, step, End, Home, speed "
              "0.1x-10x, g, arrows, q (length %d ms)" % length)
    finally:
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


if __name__ == "__main__":
    main()
