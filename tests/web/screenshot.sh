#!/usr/bin/env bash
# Takes the README's screenshot of the page (make web-shot): a 5-member
# cluster in slow motion (heartbeat 300 ms, elections 3-6 s), writes in two
# terms (a leadership transfer between),
# one follower partitioned away and one killed, then headless chromium
# saves the page to OUT.png. Usage: screenshot.sh RAFTCTL OUT.png.
# Port base 22680 (nodes 22681-22685, web 22690, chromium 22695).
OUT=$(realpath -m "${2:?usage: screenshot.sh RAFTCTL OUT.png}")
. "$(dirname "$0")/../proc/lib.sh"
. "$(dirname "$0")/web_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
up_detached 22680 --heartbeat 300 --election 3000
wait_until 30 "a leader" has_one_leader
for i in 1 2 3 4 5 6; do
    ctl put "key$i" "value $i" >/dev/null || fail "put key$i failed"
done
# A second term, so that the logs show two colours.
ctl transfer >/dev/null || fail "transfer failed"
wait_until 30 "a leader after the transfer" has_one_leader
for i in 7 8 9 10 11 12; do
    ctl put "key$i" "value $i" >/dev/null || fail "put key$i failed"
done
L=$(leader_id)
F=$(follower_id)
web_start "$(port 22690)"
OTHERS=$(status_py "','.join(str(n['id']) for n in d if n['id'] != $F)")
ctl partition "$F" "$OTHERS" >/dev/null || fail "partition failed"
K=$(status_py "[n['id'] for n in alive if n['id'] not in ($L, $F)][0]")
ctl kill "$K" >/dev/null || fail "kill failed"
for i in 13 14 15; do
    ctl put "key$i" "value $i" >/dev/null || fail "put key$i failed"
done
python3 "$HERE/page_check.py" shot "$WEB_URL" "$(port 22695)" "$OUT" ||
    fail "the screenshot failed"
echo "wrote $OUT"
