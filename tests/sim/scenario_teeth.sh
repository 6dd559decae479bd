#!/bin/sh
# Runs the teeth build of the scenario tests: with no rule broken they pass;
# with each rule a scenario is about (2 commit_old_term, 4
# truncate_on_duplicate, 8 forget_vote, 8192 ignore_lost_acked, 16384
# disk_ignored, 4194304 self_vote_early) broken, some test must fail.
# Usage: scenario_teeth.sh TEST_SIM_SCENARIOS_TEETH
set -u
bin=$1
RAFT_BUGS=0 "$bin" >/dev/null 2>&1 || { echo "teeth: fails with no rule broken"; exit 1; }
status=0
for bit in 2 4 8 8192 16384 4194304; do
    if RAFT_BUGS=$bit "$bin" >/dev/null 2>&1; then
        echo "teeth: broken rule $bit went unnoticed"
        status=1
    else
        echo "teeth: broken rule $bit caught"
    fi
done
exit $status
