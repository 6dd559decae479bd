"""Drives the page of `raftctl web` in headless chromium (tests/web/cdp.py)
and checks its DOM. Modes:
  live URL DEVPORT [SHOT]   five members, one leader, a term, log cells; kill
                            the leader with the page's own Kill button; a
                            new leader shows. SHOT: save a screenshot.
  replay URL DEVPORT [SHOT] a recording (tests/web/make_sample.py): members,
                            messages in flight, the leader, the violation.
  fps URL DEVPORT N         frames per second over 5 s with N members.
  shot URL DEVPORT FILE     a screenshot once the page shows a leader.
Exit 0 on success, 1 with a FAIL line otherwise."""
import sys
import time

from cdp import Chromium


def fail(msg):
    print(f"FAIL (page): {msg}", file=sys.stderr)
    sys.exit(1)


def wait(c, secs, what, expr, pred=bool):
    deadline = time.time() + secs
    value = None
    while time.time() < deadline:
        try:
            value = c.eval(expr)
        except RuntimeError as e:  # the page is still loading
            value = str(e)[:160]
            time.sleep(0.1)
            continue
        if pred(value):
            return value
        time.sleep(0.1)
    fail(f"timed out after {secs}s waiting for {what} (last: {value!r})")


LEADERS = ("[...document.querySelectorAll('#ring .member[data-role=leader]')]"
           ".map(e => +e.dataset.id)")
MEMBERS = "document.querySelectorAll('#ring .member').length"
CELLS = ("document.querySelectorAll('#logs .logrow:not(.hdr) "
         ".cell:not(.empty)').length")


def live(c, shot):
    wait(c, 30, "five members", MEMBERS, lambda n: n == 5)
    leaders = wait(c, 30, "one leader", LEADERS, lambda v: len(v) == 1)
    term = int(wait(c, 10, "a term", "document.getElementById('term')"
                    ".textContent", lambda t: t.isdigit() and int(t) >= 1))
    cells = wait(c, 30, "log cells", CELLS, lambda n: n > 0)
    print(f"page: 5 members, leader n{leaders[0]}, term {term}, "
          f"{cells} log cells")
    if shot:
        time.sleep(1.0)
        c.screenshot(shot)
    old = leaders[0]
    c.eval(f"document.querySelector('#ring .member[data-id=\"{old}\"]')"
           ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    c.eval("document.querySelector('button[data-act=kill]').click()")
    result = wait(c, 20, "the kill's answer", "document.getElementById"
                  "('result').textContent", lambda t: t.startswith("kill: "))
    if "bad" in c.eval("document.getElementById('result').className"):
        fail(f"the kill failed: {result}")
    new = wait(c, 30, "a new leader", LEADERS,
               lambda v: len(v) == 1 and v[0] != old)
    role = c.eval(f"document.querySelector('#ring .member[data-id=\"{old}\"]')"
                  ".dataset.role")
    if role != "down":
        fail(f"the killed leader n{old} shows as {role}, not down")
    print(f"page: killed n{old} with the Kill button ({result}); "
          f"new leader n{new[0]}")
    print(f"old={old} new={new[0]}")


def replay(c, shot):
    wait(c, 30, "replay mode", "document.getElementById('mode').textContent",
         lambda t: t == "replay")
    wait(c, 30, "five members", MEMBERS, lambda n: n == 5)
    c.eval("setPlaying(false); seek(1050)")
    votes = wait(c, 10, "vote requests in flight",
                 "document.querySelectorAll('#msgs .msg .m-vote').length",
                 lambda n: n == 4)
    c.eval("seek(1180)")
    answers = wait(c, 10, "granted votes in flight",
                   "[...document.querySelectorAll('#msgs .msg .m-ok')]"
                   ".filter(e => e.tagName === 'rect').length",
                   lambda n: n >= 1)
    c.eval("seek(2900)")
    leaders = wait(c, 10, "the leader", LEADERS, lambda v: v == [1])
    hidden = c.eval("document.getElementById('violation').hidden")
    if not hidden:
        fail("the violation shows before its moment")
    c.eval("seek(3100)")
    text = wait(c, 10, "the violation", "document.getElementById('violation')"
                ".hidden ? '' : document.getElementById('violation')"
                ".textContent", lambda t: "election safety" in t)
    marks = c.eval("document.querySelectorAll('#marks i').length")
    if marks < 2:
        fail(f"the timeline shows {marks} marks, not the leader and the "
             "violation")
    if shot:
        c.eval("seek(1080)")
        time.sleep(0.3)
        c.screenshot(shot)
    print(f"replay: {votes} votes then {answers} granted in flight, leader "
          f"n{leaders[0]}, violation marked: {text}")


def fps(c, n):
    wait(c, 60, f"{n} members", MEMBERS, lambda k: k == n)
    time.sleep(1.0)
    rate = c.eval("new Promise(r => { const f0 = window.raftFrames, "
                  "t0 = performance.now(); setTimeout(() => r((window."
                  "raftFrames - f0) * 1000 / (performance.now() - t0)), "
                  "5000); })")
    print(f"fps={rate:.1f} members={n}")


def shot(c, path):
    wait(c, 30, "one leader", LEADERS, lambda v: len(v) == 1)
    wait(c, 30, "log cells", CELLS, lambda n: n > 0)
    time.sleep(2.5)
    c.screenshot(path)


def main():
    mode, url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    c = Chromium(port)
    try:
        c.navigate(url)
        if mode == "live":
            live(c, arg)
        elif mode == "replay":
            replay(c, arg)
        elif mode == "shot":
            shot(c, arg)
        else:
            fps(c, int(arg))
    finally:
        c.close()


if __name__ == "__main__":
    main()
