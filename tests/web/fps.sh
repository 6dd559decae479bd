#!/usr/bin/env bash
# The page's frame rate with N members (make web-fps; default 16): a
# cluster of N, raftctl web, and headless chromium counting
# requestAnimationFrame callbacks over 5 s (tests/web/page_check.py fps).
# Usage: fps.sh RAFTCTL [N]. Port base 22640 (nodes 22641-22656, web
# 22670, chromium 22675).
N=${2:-16}
. "$(dirname "$0")/../proc/lib.sh"
. "$(dirname "$0")/web_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
up_detached 22640 -n "$N"
wait_until 60 "a leader" has_one_leader
web_start "$(port 22670)"
python3 "$HERE/page_check.py" fps "$WEB_URL" "$(port 22675)" "$N" ||
    fail "the frame count failed"
