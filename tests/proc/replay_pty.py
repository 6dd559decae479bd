#!/usr/bin/env python3
"""Drives `raftctl replay FILE` in a pseudo-terminal (100x30), as a user would.

Usage: replay_pty.py RAFTCTL RECORDING DUMPFILE

The replay writes each frame's text to DUMPFILE (RAFTCTL_WATCH_DUMP, the
dashboard's testing hook; tests/proc/pty_view.py). The script reads the
title (the moment, the length, the speed, playing or paused) and checks
each key: it plays from the start; space pauses (the moment stays); .
steps to a later moment; End and Home go to the end and the start; + and
- change the speed within 0.1x..10x; g 1 Enter jumps to 1 s; right and
left arrows move 5 s; q quits with exit 0 and gives the terminal back.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pty_view import PtyView  # noqa: E402

TITLE = re.compile(r" raft replay \S+ \((?:live|sim seed 0x[0-9a-f]+)\)  "
                   r"(\d+)\.(\d{3})/(\d+)\.(\d{3}) s  (\d+\.\d)x "
                   r"(playing|paused)")


def title(s):
    """(moment ms, length ms, speed, state) from the title, or None."""
    m = TITLE.match(s)
    if not m:
        return None
    return (int(m.group(1)) * 1000 + int(m.group(2)),
            int(m.group(3)) * 1000 + int(m.group(4)), m.group(5), m.group(6))


def main():
    raftctl, recording, dump = sys.argv[1:4]
    v = PtyView("replay_pty", [raftctl, "replay", recording], dump)

    def wait_title(what, pred, seconds=10):
        return v.wait(what, lambda s: title(s) and pred(title(s)) and
                      title(s), seconds)

    try:
        first = wait_title("playing", lambda t: t[3] == "playing")
        wait_title("time moving", lambda t: t[0] > first[0])
        length = first[1]
        if length < 2000:
            v.fail("recording too short for the test: %d ms" % length)
        v.key(b" ")
        paused = wait_title("paused", lambda t: t[3] == "paused")
        v.pump(0.5)
        if title(v.screen())[0] != paused[0]:
            v.fail("the moment moved while paused")
        v.key(b".")
        stepped = wait_title("a step", lambda t: t[0] > paused[0])
        if stepped[3] != "paused" or stepped[0] - paused[0] > 1000:
            v.fail("a step went from %d to %d" % (paused[0], stepped[0]))
        v.key(b"\x1bOF")  # End (xterm, keypad mode)
        wait_title("the end", lambda t: t[0] == length)
        v.key(b"\x1bOH")  # Home
        wait_title("the start", lambda t: t[0] == 0)
        v.key(b"+")
        wait_title("2.0x", lambda t: t[2] == "2.0")
        v.key(b"+")
        wait_title("5.0x", lambda t: t[2] == "5.0")
        v.key(b"+++++")
        wait_title("10.0x at most", lambda t: t[2] == "10.0")
        v.key(b"-" * 10)
        wait_title("0.1x at least", lambda t: t[2] == "0.1")
        v.key(b"g")
        v.pump(0.1)
        v.key(b"1\r")
        wait_title("1 s", lambda t: t[0] == 1000)
        right = min(6000, length)
        v.key(b"\x1bOC")  # Right
        wait_title("%d ms" % right, lambda t: t[0] == right)
        left = right - 5000 if right > 5000 else 0
        v.key(b"\x1bOD")  # Left
        wait_title("%d ms" % left, lambda t: t[0] == left)
        if "--- events, newest first (from the recording)" not in v.screen():
            v.fail("no event feed on screen")
        v.quit()
        print("ok: replay keys: play, pause, step, End, Home, speed "
              "0.1x-10x, g, arrows, q (length %d ms)" % length)
    finally:
        v.kill()


main()
