#!/usr/bin/env bash
# The page's frame rate with N members (make web-fps; default 16): a
# cluster of N, raftctl web, and headless chromium counting
# requestAnimationFrame callbacks over 5 s (tests/web/page_check.py fps).
# Usage: fps.sh RAFTCTL [N]. Port base 22640 (nodes 22641-22656, web
# 22670, chromium 22675).
N=${2:-16}
. "$(dirname "$0")/../proc/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
up_detached 22640 -n "$N"
wait_until 60 "a leader" has_one_leader
"$RAFTCTL" -d "$DIR" web --port "$(port 22670)" >"$DIR/web.out" 2>&1 &
WEB_PID=$!
trap 'kill "$WEB_PID" 2>/dev/null; proc_cleanup' EXIT
has_url() { grep -q 'token=[0-9a-f]\{32\}' "$DIR/web.out"; }
wait_until 10 "raftctl web's URL" has_url
URL=$(grep -o 'http://127.0.0.1:[0-9]*/?token=[0-9a-f]\{32\}' "$DIR/web.out")
python3 "$HERE/page_check.py" fps "$URL" "$(port 22675)" "$N" ||
    fail "the frame count failed"
