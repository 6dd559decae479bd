#!/bin/sh
# One-way layering (STYLE.md "Layers"): common/ includes only common/;
# storage/ only common/ and storage/; node/ and launcher/ sit on top and
# never include each other. Reads every #include "..." under the source
# root given as $1 and fails naming file:line for each one that breaks
# the rule.
set -eu
root=${1:-.}
cd "$root"
for d in common storage node launcher; do
    [ -d "$d" ] || { echo "layering: no $d/ under $root"; exit 1; }
done
# Prints "file:line: includes path" for every project include of the files
# under directory $1 whose path does not start with one of the allowed
# prefixes ($2, a space-separated list) or starts with a forbidden one ($3).
check() {
    find "$1" -type f \( -name '*.c' -o -name '*.h' \) | sort |
        xargs awk -v allowed="$2" -v forbidden="$3" '
        match($0, /^[ \t]*#[ \t]*include[ \t]*"[^"]+"/) {
            s = substr($0, RSTART, RLENGTH)
            sub(/^[^"]*"/, "", s)
            sub(/"$/, "", s)
            top = s
            sub(/\/.*/, "", top)
            bad = 0
            if (allowed != "") {
                bad = 1
                n = split(allowed, a, " ")
                for (i = 1; i <= n; i++) if (top == a[i]) bad = 0
            }
            n = split(forbidden, f, " ")
            for (i = 1; i <= n; i++) if (top == f[i]) bad = 1
            if (bad) printf "%s:%d: includes \"%s\"\n", FILENAME, FNR, s
        }'
}
out=$( {
    check common "common" ""
    check storage "common storage" ""
    check node "" "launcher"
    check launcher "" "node"
} )
if [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "layering: common/ includes only common/; storage/ only common/ and"
    echo "layering: storage/; node/ and launcher/ never include each other"
    exit 1
fi
echo "layering: ok"
