#!/bin/sh
# Runs a teeth-built unit test binary once per broken rule (RAFT_BUGS bit)
# and fails unless every broken rule makes at least one test fail, and the
# binary passes with no rule broken. Usage: teeth.sh BIN [BIT...] (the
# bits default to the rules of Figure 2 that test_raft covers).
set -u
bin=$1
shift
bits=${*:-1 2 4 8 16 32 64}
"$bin" >/dev/null 2>&1 || { echo "teeth: $bin fails with no broken rule"; exit 1; }
status=0
for bit in $bits; do
    out=$(RAFT_BUGS=$bit "$bin" 2>&1)
    if [ $? -eq 0 ]; then
        echo "teeth: broken rule $bit went unnoticed by $bin"
        status=1
    else
        echo "teeth: broken rule $bit caught by:" \
            $(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \(test_[a-z_]*\)$/\1/p' | sort -u)
    fi
done
exit $status
