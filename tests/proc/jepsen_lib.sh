# Helpers for the fault-injection process tests (nemesis, hostile, lossy,
# disk stall, namespaces), sourced after lib.sh: the tools built next to
# raftctl, keeping the directory when a test fails, waiting for the cluster
# to converge, and comparing the nodes' SQLite files (committed log rows and
# the kv table). Uses the sqlite3 shell and python3 (make deps installs them).

BIN=$(cd "$(dirname "$RAFTCTL")" && pwd)

# Every failure of these tests keeps the directory (history, nemesis log,
# node logs and databases) and says where it is: lib.sh's fail() is
# wrapped, so a timed-out wait_until keeps it too.
eval "lib_fail() $(declare -f fail | tail -n +2)"
fail() {
    PROC_KEEP=1
    echo "FAIL ($PROC_NAME): kept $DIR (cluster.conf, node*.log, node*.db," \
        "history and nemesis logs)" >&2
    lib_fail "$@"
}

jfail() {
    fail "$@"
}

# Milliseconds of the monotonic-ish wall clock, for deadlines and rates.
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# True when every member answers, exactly one leads, and every node has
# committed and applied the same index.
converged() {
    [ "$(status_py "len(alive) == len(d) and len(leaders) == 1 and \
len(set(n['commit'] for n in d)) == 1 and \
all(n['applied'] == n['commit'] for n in d)")" = True ]
}

# The smallest commit index over the live nodes.
min_commit() {
    status_py "min(n['commit'] for n in alive)"
}

# compare_logs UPTO: every node<ID>.db in $DIR holds the same (idx, term,
# data) rows from the first index all of them still hold up to UPTO, with no
# gap. A node whose log is empty holds from its snapshot point on; when
# compaction left no index every node holds, there is nothing to compare
# (compare_kv still checks the state). Prints one line; fails (keeping
# everything) on a difference.
compare_logs() {
    local upto=$1 first=1 db f ref="" refdb="" sum n q
    for db in "$DIR"/node*.db; do
        f=$(sqlite3 -readonly "$db" "SELECT COALESCE((SELECT MIN(idx) FROM log),
(SELECT idx + 1 FROM snapshot), 1)") || jfail "cannot read $db"
        [ "$f" -gt "$first" ] && first=$f
    done
    if [ "$first" -gt "$upto" ]; then
        echo "no committed log row held by every node (compacted up to $((first - 1)), commit $upto)"
        return 0
    fi
    # Every column: a command's payload lives in its readable columns, data
    # holds the rest.
    q="SELECT idx, term, op, hex(key), hex(value), hex(expected), client_id,
seq, hex(data) FROM log WHERE idx BETWEEN $first AND $upto ORDER BY idx"
    for db in "$DIR"/node*.db; do
        n=$(sqlite3 -readonly "$db" \
            "SELECT COUNT(*) FROM log WHERE idx BETWEEN $first AND $upto")
        [ "$n" = $((upto - first + 1)) ] ||
            jfail "$(basename "$db") has $n log rows in [$first, $upto]," \
                "expected $((upto - first + 1))"
        sum=$(sqlite3 -readonly "$db" "$q" | md5sum | cut -d' ' -f1)
        if [ -z "$ref" ]; then
            ref=$sum
            refdb=$db
        elif [ "$sum" != "$ref" ]; then
            diff <(sqlite3 -readonly "$refdb" "$q") \
                <(sqlite3 -readonly "$db" "$q") | head -5 >&2
            jfail "committed logs differ: $(basename "$refdb") and" \
                "$(basename "$db") in [$first, $upto]"
        fi
    done
    echo "committed logs identical on every node: entries $first..$upto"
}

# compare_kv: every node's kv table is the same.
compare_kv() {
    local db ref="" refdb="" sum
    for db in "$DIR"/node*.db; do
        sum=$(sqlite3 -readonly "$db" \
            "SELECT key, hex(value) FROM kv ORDER BY key" | md5sum)
        if [ -z "$ref" ]; then
            ref=$sum
            refdb=$db
        elif [ "$sum" != "$ref" ]; then
            jfail "kv tables differ: $(basename "$refdb") and $(basename "$db")"
        fi
    done
    echo "kv tables identical on every node"
}

# A random integer in [0, N) from bash's RANDOM (seeded by the test).
rand() {
    echo $((RANDOM % $1))
}
