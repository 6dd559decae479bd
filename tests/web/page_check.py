"""Drives the page of `raftctl web` in headless chromium (tests/web/cdp.py)
and checks its DOM. Modes:
  live URL DEVPORT [SHOT]   five members, one leader, a term, log cells; kill
                            the leader with the page's own Kill button; a
                            new leader shows. SHOT: save a screenshot.
  replay URL DEVPORT [SHOT] a recording (tests/web/make_sample.py): members,
                            messages in flight, the leader, the violation.
  fps URL DEVPORT N         frames per second over 5 s with N members.
  shot URL DEVPORT FILE     a screenshot once the page shows a leader.
  sequence URL DEVPORT FILE the page, stepping a recording frame by frame,
                            shows the same leaders and terms, in the same
                            order, as the file's status lines.
  hostile URL DEVPORT       a recording with HTML in its numeric fields
                            (make_sample.py --hostile) shows it as text:
                            no element and no script comes of it.
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


def expected_sequence(path):
    """(leader, term) after each batch of status lines, as the page
    computes them (app.js leaderStatus, drawHeader), consecutive repeats
    dropped."""
    import json
    members, seq, last_t = {}, [], None

    def now():
        up_leaders = [s for s in members.values()
                      if s.get("up") and s.get("role") == "leader"]
        lead = max(up_leaders, key=lambda s: s["term"]) if up_leaders else None
        term = max((s.get("term") or 0) for s in members.values())
        return [lead["id"] if lead else 0, term]

    lines = [json.loads(x) for x in open(path) if x.strip()]
    lines.sort(key=lambda l: l["t"])
    for line in lines:
        if line["k"] != "status":
            continue
        if last_t is not None and line["t"] != last_t:
            seq.append(now())
        members[line["id"]] = line
        last_t = line["t"]
    if members:
        seq.append(now())
    return [v for i, v in enumerate(seq) if i == 0 or v != seq[i - 1]]


STEP_ALL = """(() => {
  setPlaying(false); seek(0);
  const seq = [];
  const at = () => { const l = leaderStatus(); let t = 0;
    for (const s of model.members.values()) t = Math.max(t, s.term || 0);
    return [l ? l.id : 0, t]; };
  for (let k = 0; k < 1000000 && replay.t < replay.end; k++) {
    stepReplay();
    const v = at(), p = seq[seq.length - 1];
    if (!p || p[0] !== v[0] || p[1] !== v[1]) seq.push(v);
  }
  return seq;
})()"""


def sequence(c, path):
    wait(c, 30, "replay mode", "document.getElementById('mode').textContent",
         lambda t: t == "replay")
    wait(c, 30, "the recording", "replay.end", lambda e: e and e > 0)
    want = expected_sequence(path)
    got = c.eval(STEP_ALL)
    if got != want:
        fail(f"the replay shows (leader, term) {got}, the recording {want}")
    print(f"replay: leaders and terms {got} as recorded")



def hostile(c):
    wait(c, 30, "replay mode", "document.getElementById('mode').textContent",
         lambda t: t == "replay")
    wait(c, 30, "two members", MEMBERS, lambda n: n == 2)
    c.eval("setPlaying(false); seek(1000)")
    panels = ("['timing', 'logs', 'progress'].map(i => "
              "document.getElementById(i).textContent).join(' | ')")
    text = wait(c, 10, "the fields as text", panels,
                lambda t: t.count("<img") >= 4)
    titles = c.eval("[...document.querySelectorAll('#logs [title]')]"
                    ".map(e => e.title).join(' | ')")
    found = c.eval("document.querySelectorAll('img, [onerror]').length")
    ran = c.eval("window.pwned === undefined ? 0 : 1")
    if found or ran or "<img" not in titles:
        fail(f"the recording's HTML became page content: {found} elements, "
             f"script ran: {ran}, titles {titles[:200]!r}")
    print(f"hostile: the recording's HTML shows as text: {text[:120]!r}")


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
        elif mode == "sequence":
            sequence(c, arg)
        elif mode == "hostile":
            hostile(c)
        else:
            fps(c, int(arg))
    finally:
        c.close()


if __name__ == "__main__":
    main()
