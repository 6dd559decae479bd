#!/usr/bin/env bash
# raftctl web in a real browser: headless chromium (tests/web/cdp.py, the
# DevTools protocol from python3) loads the page against a 5-member cluster
# and checks its DOM: five members, one leader, a term, log cells; the
# page's own Kill button kills the leader and the page shows a new one
# (tests/web/page_check.py). The live stream, saved meanwhile
# (capture.py), replays to the same leaders and terms in the same order;
# a synthetic recording replays with votes in flight and the violation
# marked; a recording with HTML in its fields shows it as text. Skips (77) when chromium cannot run. WEB_SHOT=FILE keeps a screenshot of the live page. Port base 22600
# (nodes 22601-22605, web 22650-22653, chromium's debugging port 22660).
. "$(dirname "$0")/../proc/lib.sh"
. "$(dirname "$0")/web_lib.sh"

if ! command -v chromium >/dev/null 2>&1; then
    echo "SKIP: chromium is not installed ('make deps' installs it)"
    exit 77
fi
if ! timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom \
    'data:text/html,<p>ok</p>' 2>/dev/null | grep -q '<p>ok</p>'; then
    echo "SKIP: chromium is installed but cannot run headless here"
    exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
up_detached 22600
wait_until 15 "a leader" has_one_leader
ctl put web-page-key 1 >/dev/null || fail "put failed"
web_start "$(port 22650)"
# The live stream, saved as a recording while the page works.
python3 "$HERE/capture.py" "$(port 22650)" "$WEB_TOKEN" "$DIR/live.jsonl" &
CAPTURE_PID=$!
WEB_PIDS="$WEB_PIDS $CAPTURE_PID"
python3 "$HERE/page_check.py" live "$WEB_URL" "$(port 22660)" ${WEB_SHOT:-} \
    >"$DIR/page.out" || { cat "$DIR/page.out"; fail "the live page check failed"; }
cat "$DIR/page.out"
OLD=$(sed -n 's/^old=\([0-9]*\) new=.*/\1/p' "$DIR/page.out")
NEW=$(sed -n 's/^old=[0-9]* new=\([0-9]*\)/\1/p' "$DIR/page.out")
# The page told the truth: raftctl sees the same.
[ "$(status_py "by_id[$OLD]['alive']")" = False ] || fail "n$OLD still runs"
wait_until 10 "raftctl to see n$NEW lead" test "$(leader_id)" = "$NEW"
echo "ok: raftctl status agrees: n$OLD down, n$NEW leads"
kill "$CAPTURE_PID"
wait "$CAPTURE_PID" 2>/dev/null
# The saved stream replays to the same leaders and terms, n$OLD then n$NEW.
web_start "$(port 22652)" --replay "$DIR/live.jsonl"
python3 "$HERE/page_check.py" sequence "$WEB_URL" "$(port 22660)" \
    "$DIR/live.jsonl" >"$DIR/seq.out" || { cat "$DIR/seq.out"; fail "the live run did not replay the same"; }
cat "$DIR/seq.out"
grep -q "\[$OLD, [0-9]*\].*\[$NEW, [0-9]*\]\] as recorded" "$DIR/seq.out" ||
    fail "the replayed sequence does not go from n$OLD to n$NEW"
# A recording on the timeline.
python3 "$HERE/make_sample.py" "$DIR/sample.jsonl"
web_start "$(port 22651)" --replay "$DIR/sample.jsonl"
python3 "$HERE/page_check.py" replay "$WEB_URL" "$(port 22660)" ||
    fail "the replay page check failed"
# HTML in a recording's fields shows as text, never as elements or script.
python3 "$HERE/make_sample.py" --hostile "$DIR/hostile.jsonl"
web_start "$(port 22653)" --replay "$DIR/hostile.jsonl"
python3 "$HERE/page_check.py" hostile "$WEB_URL" "$(port 22660)" ||
    fail "the hostile recording check failed"
