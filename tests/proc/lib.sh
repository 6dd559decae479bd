# Helpers for the process tests: each test sources this file with the
# raftctl binary as $1 and a port base of its own, gets a fresh mktemp
# directory, and on exit stops only what it started (raftctl down, then the
# launcher pid it recorded and the node pids of its own directory).
# Conditions are polled with generous deadlines; nothing sleeps and asserts.

set -u

RAFTCTL=${1:?usage: test.sh path/to/raftctl}
PROC_NAME=$(basename "$0" .sh)
DIR=$(mktemp -d "/tmp/raft-${PROC_NAME}.XXXXXX")
LAUNCHER_PID=""
# Every port a test names is shifted by this much: CMake draws one of five
# offsets per build directory (so two checkouts' ctest runs rarely share a
# port), and RAFT_TEST_PORT_OFFSET overrides it.
PORT_OFFSET=${RAFT_TEST_PORT_OFFSET:-${RAFT_BUILD_PORT_OFFSET:-0}}

# port N: the test's port N after the offset.
port() {
    echo $(($1 + PORT_OFFSET))
}

proc_cleanup() {
    if [ -n "${WRITER:-}" ]; then
        touch "$DIR/stop" 2>/dev/null
        kill "$WRITER" 2>/dev/null
    fi
    "$RAFTCTL" -d "$DIR" down >/dev/null 2>&1
    if [ -n "$LAUNCHER_PID" ] && kill -0 "$LAUNCHER_PID" 2>/dev/null; then
        kill -9 "$LAUNCHER_PID" 2>/dev/null
    fi
    for f in "$DIR"/node*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$DIR/"; then
            kill -9 "$pid" 2>/dev/null
        fi
    done
    if [ "${PROC_KEEP:-}" = "" ]; then
        rm -rf "$DIR"
    fi
}
trap proc_cleanup EXIT

# stop_pids PID...: SIGKILL to each pid (only ones this test started),
# then reaps them.
stop_pids() {
    local pid
    for pid in "$@"; do
        kill -9 "$pid" 2>/dev/null
    done
    for pid in "$@"; do
        wait "$pid" 2>/dev/null
    done
}

fail() {
    echo "FAIL ($PROC_NAME): $*" >&2
    echo "--- status:" >&2
    "$RAFTCTL" -d "$DIR" status >&2 2>&1
    for f in "$DIR"/launcher.log; do
        [ -f "$f" ] && { echo "--- $f (tail):" >&2; tail -20 "$f" >&2; }
    done
    exit 1
}

ctl() {
    "$RAFTCTL" -d "$DIR" "$@"
}

# up_detached PORT_BASE [more up options]: starts the cluster, records the
# launcher pid for the cleanup.
up_detached() {
    local base=$1
    shift
    ctl up --detach --port "$(port "$base")" "$@" >/dev/null || fail "up --detach failed"
    LAUNCHER_PID=$(cat "$DIR/launcher.pid")
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
    while [ $(($(date +%s%N) / 1000000)) -lt $deadline ]; do
        if "$@"; then
            return 0
        fi
        sleep 0.1
    done
    fail "timed out after ${secs}s waiting for: $what"
}

# status_py EXPR: evaluates a python expression over d = status --json.
status_py() {
    ctl status --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
alive = [n for n in d if n['alive']]
leaders = [n for n in alive if n['role'] == 'leader']
by_id = {n['id']: n for n in d}
print($1)
"
}

# The id of the leader with the highest term among the live nodes, or
# nothing when no node says it leads.
leader_id() {
    status_py "max(leaders, key=lambda n: n['term'])['id'] if leaders else ''"
}

has_one_leader() {
    [ "$(status_py "len(leaders)")" = 1 ]
}

# A leader other than $1 exists.
has_new_leader() {
    local l
    l=$(leader_id)
    [ -n "$l" ] && [ "$l" != "$1" ]
}

# A live follower id (not the leader).
follower_id() {
    status_py "[n['id'] for n in alive if n['role'] != 'leader'][0]"
}

# db_query ID SQL: SQL on node ID's database, with the sqlite3 shell.
db_query() {
    sqlite3 -cmd ".timeout 2000" "$DIR/node$1.db" "$2" 2>/dev/null
}

# serves_after_damage I...: the members left read kI = vI for each I and
# take a write.
serves_after_damage() {
    local i got
    for i in "$@"; do
        got=$(ctl get "k$i") || fail "get k$i"
        [ "$got" = "v$i" ] || fail "k$i = '$got'"
    done
    ctl put after damage >/dev/null || fail "a write after the damage"
}

# damage_kv_row ID KEY VALUE: once node ID stores KEY = VALUE, stops it and
# changes the row's value to 'evil' (the row keeps its old crc).
damage_kv_row() {
    local id=$1 key=$2 value=$3
    stored() { [ "$(db_query "$id" "SELECT value FROM kv WHERE key = '$key'")" = "$value" ]; }
    wait_until 20 "$key stored on node $id" stored
    ctl kill "$id" >/dev/null || fail "kill $id"
    db_query "$id" "UPDATE kv SET value = 'evil' WHERE key = '$key'"
    [ "$(db_query "$id" "SELECT value FROM kv WHERE key = '$key'")" = evil ] ||
        fail "edit did not land"
}

# put_some: five more acknowledged writes, keyN = valueN, counted in
# n_keys; check_keys reads every one of them back.
n_keys=0
put_some() {
    for _ in 1 2 3 4 5; do
        n_keys=$((n_keys + 1))
        ctl put "key$n_keys" "value$n_keys" >/dev/null || fail "put key$n_keys"
    done
}
check_keys() {
    local i got
    for i in $(seq 1 "$n_keys"); do
        got=$(ctl get "key$i") || fail "get key$i"
        [ "$got" = "value$i" ] || fail "key$i = '$got'"
    done
}

# start_writer PREFIX: a client in the background putting PREFIXi = vi
# (i = 1, 2, ...), one at a time, until $DIR/stop exists: each
# acknowledged i goes to $DIR/acked, each failed one to $DIR/failed (its
# message to $DIR/failed.txt). WRITER holds its pid (proc_cleanup stops
# it). stop_writer ends it; check_acked PREFIX reads every acknowledged
# one back.
WRITER=""
start_writer() {
    : >"$DIR/acked"
    : >"$DIR/failed"
    (
        i=0
        while [ ! -e "$DIR/stop" ]; do
            i=$((i + 1))
            if "$RAFTCTL" -d "$DIR" put "$1$i" "v$i" --timeout 10000 \
                >/dev/null 2>>"$DIR/failed.txt"; then
                echo "$i" >>"$DIR/acked"
            else
                echo "$i" >>"$DIR/failed"
            fi
        done
    ) &
    WRITER=$!
}
stop_writer() {
    touch "$DIR/stop"
    wait "$WRITER"
    WRITER=""
}
check_acked() {
    local i
    while read -r i; do
        [ "$(ctl get "$1$i")" = "v$i" ] || fail "acknowledged $1$i lost or changed"
    done <"$DIR/acked"
}
