#!/bin/sh
# raftsim --record and raftctl replay (docs/RECORDING.md). A clean seed
# recorded runs exactly as unrecorded (same trace hash) and replays with
# leaders and no violation; then, over the teeth build with one Raft rule
# broken (--bug no_election_restriction), the first failing seed is
# recorded and its replay marks the violation: same check, at the moment
# the simulator reported it (its trace's "T VIOLATION" line).
# Usage: replay_violation.sh RAFTSIM RAFTSIM_TEETH RAFTCTL
set -eu
sim=$1
teeth=$2
ctl=$3
dir=$(mktemp -d /tmp/raft-sim-replay.XXXXXX)
trap 'rm -rf "$dir"' EXIT

a=$("$sim" --seed 0x2a --steps 4000 | grep -o 'trace_hash=0x[0-9a-f]*')
b=$("$sim" --seed 0x2a --steps 4000 --record "$dir/clean.rec" |
    grep -o 'trace_hash=0x[0-9a-f]*')
[ -n "$a" ] && [ "$a" = "$b" ] || {
    echo "recording changed the run: '$a' vs '$b'"; exit 1; }
[ "$(stat -c %a "$dir/clean.rec")" = 600 ] || { echo "mode"; exit 1; }
"$ctl" replay "$dir/clean.rec" --dump >"$dir/clean.txt"
grep -q '^t=[0-9]* leader [0-9]* term [0-9]*$' "$dir/clean.txt" || {
    echo "clean replay shows no leader"; cat "$dir/clean.txt"; exit 1; }
grep -q ' violations 0 ' "$dir/clean.txt" || {
    echo "clean replay shows a violation"; tail -3 "$dir/clean.txt"; exit 1; }
grep -q '"k":"msg"' "$dir/clean.rec" || { echo "no msg lines"; exit 1; }

bug=no_election_restriction
seed=$("$teeth" --bug "$bug" --seeds 1..200 --stop |
    sed -n 's/^FAILED seed=\(0x[0-9a-f]*\) check=.*/\1/p' | head -1)
[ -n "$seed" ] || { echo "--bug $bug: no failing seed in 1..200"; exit 1; }
set +e
"$teeth" --bug "$bug" --seed "$seed" --record "$dir/bug.rec" >"$dir/bug.out"
rc=$?
set -e
[ "$rc" = 1 ] || { echo "seed $seed with --bug $bug: exit $rc"; exit 1; }
check=$(sed -n 's/^FAILED seed=0x[0-9a-f]* check=\([a-z_]*\)$/\1/p' \
    "$dir/bug.out" | head -1)
at=$(sed -n "s/^\([0-9]*\) VIOLATION $check: .*/\1/p" "$dir/bug.out" | head -1)
[ -n "$check" ] && [ -n "$at" ] || {
    echo "no violation in the simulator's output"; exit 1; }
"$ctl" replay "$dir/bug.rec" --dump >"$dir/bug.txt"
grep -q "^t=$at violation $check: " "$dir/bug.txt" || {
    echo "replay does not mark $check at t=$at:"; cat "$dir/bug.txt"; exit 1; }
grep -q ' violations 1 ' "$dir/bug.txt" || {
    echo "replay: not exactly one violation"; tail -1 "$dir/bug.txt"; exit 1; }
# The dashboard of that moment shows it in the feed.
"$ctl" replay "$dir/bug.rec" --frame "$at" | grep -q "VIOLATION $check" || {
    echo "the frame at t=$at does not show the violation"; exit 1; }
echo "replay_violation: ok (seed $seed, $check at t=$at)"
