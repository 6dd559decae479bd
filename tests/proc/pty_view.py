"""A full-screen raftctl view (watch, replay) in a pseudo-terminal, for
tests/proc/watch_pty.py and tests/proc/replay_pty.py.

The view runs at COLS x ROWS with TERM=xterm and writes each frame's text
to a dump file (RAFTCTL_WATCH_DUMP, the dashboards' testing hook: the same
cells it draws). The terminal's output is always drained so the view never
blocks on a full pty; only the child started here is ever killed.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

ROWS, COLS = 30, 100


class PtyView:
    def __init__(self, name, argv, dump):
        self.name = name
        self.dump = dump
        self.raw = bytearray()
        self.reaped = False
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ,
                        struct.pack("HHHH", ROWS, COLS, 0, 0))
            env = dict(os.environ, TERM="xterm", RAFTCTL_WATCH_DUMP=dump)
            os.execve(argv[0], argv, env)

    def fail(self, msg, screen=None):
        sys.stderr.write("FAIL (%s): %s\n--- last screen:\n%s\n"
                         % (self.name, msg,
                            self.screen() if screen is None else screen))
        self.kill()
        sys.exit(1)

    def pump(self, seconds):
        """Reads the terminal for up to `seconds`; False once it closed."""
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return True
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                self.raw.extend(data)

    def screen(self):
        try:
            with open(self.dump) as f:
                return f.read()
        except OSError:
            return ""

    def key(self, data):
        os.write(self.fd, data)

    def wait(self, what, pred, seconds):
        """Polls pred(screen text) until it is true; returns its value."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = pred(self.screen())
            if m:
                return m
            if not self.pump(0.05):
                self.fail("the view exited while waiting for " + what)
        self.fail("timed out after %ds waiting for %s" % (seconds, what))

    def quit(self):
        """Presses q; the view must exit 0 and give the terminal back."""
        s = self.screen()
        if b"\x1b[?1049h" not in self.raw:
            self.fail("the view did not switch to the alternate screen", s)
        self.key(b"q")
        deadline = time.time() + 10
        status = None
        while time.time() < deadline:
            self.pump(0.1)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done == self.pid:
                self.reaped = True
                break
        else:
            self.fail("the view did not exit after q", s)
        self.pump(0.2)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            self.fail("the view exited with status %r" % status, s)
        if b"\x1b[?1049l" not in self.raw[-200:]:
            self.fail("the terminal was not restored (no rmcup at the end)",
                      s)

    def kill(self):
        if not self.reaped:
            self.reaped = True
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
