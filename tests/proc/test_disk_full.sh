#!/usr/bin/env bash
# Full disk (docs/DISK.md): a 3-member cluster on a small tmpfs that this
# test mounts in a private directory (and unmounts on exit). After some
# acknowledged writes a filler file takes all the space; writes go on until
# the members' disks are full, then `raftctl put` must exit 4 with "no
# space left on member N (DIR)" (not "outcome unknown") and status must
# show a full disk. Once the filler is removed, writes must resume without
# any command, and every acknowledged write must read back. Prints the
# time from freeing the space to the first write served again. Skips (exit
# 77) where tmpfs cannot be mounted (needs root).
. "$(dirname "$0")/lib.sh"

MNT=$(mktemp -d "/tmp/raft-diskfull-mnt.XXXXXX")
MOUNTED=""
disk_full_cleanup() {
    if [ -n "${PROC_KEEP:-}" ] && [ -d "$DIR" ]; then
        cp -r "$DIR" "$MNT.kept" && echo "kept: $MNT.kept"
    fi
    proc_cleanup
    if [ -n "$MOUNTED" ]; then
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    fi
    rmdir "$MNT" 2>/dev/null
}
trap disk_full_cleanup EXIT

if ! mount -t tmpfs -o size=40m,mode=0700 tmpfs "$MNT" 2>"$DIR/mount.err"; then
    echo "SKIP: cannot mount a tmpfs here ($(cat "$DIR/mount.err")); needs root"
    exit 77
fi
MOUNTED=1
rm -rf "$DIR"
DIR="$MNT/cluster"
mkdir "$DIR"

up_detached 23000 --nodes 3
wait_until 10 "a leader" has_one_leader

# Acknowledged writes: key -> value, checked at the end.
declare -A ACKED
VALUE=$(head -c 12000 /dev/zero | tr '\0' 'v')
for i in $(seq 1 20); do
    ctl put "before$i" "b$i-$VALUE" >/dev/null || fail "put before$i"
    ACKED["before$i"]="b$i-$VALUE"
done

# Take the space: dd stops at ENOSPC.
dd if=/dev/zero of="$MNT/filler" bs=1M 2>/dev/null
echo "filled: $(df -k "$MNT" | awk 'NR == 2 { print $4 }') KiB left"

# Write until a put is refused for want of space.
NO_SPACE=""
deadline=$(($(date +%s) + 60))
i=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    i=$((i + 1))
    out=$(ctl put "during$i" "d$i-$VALUE" --timeout 3000 2>&1)
    rc=$?
    if [ "$rc" = 0 ]; then
        ACKED["during$i"]="d$i-$VALUE"
    elif [ "$rc" = 4 ] && printf '%s' "$out" | grep -q "no space left on member [0-9]* ($DIR)"; then
        NO_SPACE=$out
        break
    elif [ "$rc" != 3 ]; then
        fail "put during$i: exit $rc: $out"
    fi
done
[ -n "$NO_SPACE" ] || fail "no put was refused with 'no space left' within 60 s ($i puts)"
echo "after $i puts: $NO_SPACE"

# status shows it (a line under the table; --json keeps its keys).
some_full() {
    ctl status | grep -q "^disk of member [0-9]*: full"
}
wait_until 10 "a member with disk full in status" some_full

# Give the space back: writes resume by themselves.
rm -f "$MNT/filler"
t0=$(($(date +%s%N) / 1000000))
resumed() {
    ctl put after "a-$VALUE" --timeout 1000 >/dev/null 2>&1
}
wait_until 60 "writes to resume after space returned" resumed
t1=$(($(date +%s%N) / 1000000))
ACKED[after]="a-$VALUE"
echo "space returned: a write was served after $((t1 - t0)) ms"

all_ok() {
    [ "$(status_py "len(alive) == 3")" = True ] && ! ctl status | grep -q "^disk of member"
}
wait_until 30 "every member up with disk ok" all_ok

# No acknowledged write was lost.
for k in "${!ACKED[@]}"; do
    got=$(ctl get "$k" --timeout 5000) || fail "get $k after recovery"
    [ "$got" = "${ACKED[$k]}" ] || fail "acknowledged $k lost or changed"
done
echo "ok: ${#ACKED[@]} acknowledged writes read back"
grep -q "restarting in place" "$DIR"/node*.log ||
    fail "no member log says it restarted in place"

