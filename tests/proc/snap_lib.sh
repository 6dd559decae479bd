# Helpers for the snapshot process tests (sourced after lib.sh): a member's
# applied index, its kv digest, and waiting until every member's kv table
# is the same (the kv write-back lags the log by up to ~1 s).

# applied ID: the member's applied index from status.
applied() {
    status_py "by_id[$1]['applied'] if by_id[$1]['alive'] else 0"
}

# kv_digest ID: md5 of the member's kv table, read while it runs.
kv_digest() {
    sqlite3 -readonly "$DIR/node$1.db" "SELECT key, value FROM kv ORDER BY key" |
        md5sum | cut -d' ' -f1
}

# kv_same IDS...: true when every member named has the same kv digest.
kv_same() {
    local ref id
    ref=$(kv_digest "$1")
    for id in "$@"; do
        [ "$(kv_digest "$id")" = "$ref" ] || return 1
    done
}

# installs ID: how many snapshots the member installed (its log lines).
installs() {
    grep -c "installed snapshot index=" "$DIR/node$1.log" 2>/dev/null
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}
