#!/usr/bin/env bash
# Jepsen-style nemesis, the 30 s version of make soak (tests/proc/soak.sh,
# which says what it does and checks): 5 nodes, 8 concurrent clients
# (linclient) doing put/get/cas/del on 5 keys with unique values while a
# nemesis SIGKILLs and restarts nodes (the leader too), pauses and resumes
# them, partitions random minorities, isolates the leader, turns netem loss,
# duplication and delay on and off, slows one node's disk, and now and then
# crashes every node at once; then heals and checks linearizability, the
# acknowledged writes, and that every node's log and kv table agree.
# The knobs keep their names: NEMESIS_SEED (printed; repeats the schedule),
# NEMESIS_SECONDS (30), NEMESIS_GAP (3: faults every 0..GAP s),
# NEMESIS_TIMEOUT_MS (2000), NEMESIS_PORT (24100), NEMESIS_UP_ARGS (none;
# e.g. "--heartbeat 10 --election 40" for many more elections). A failing
# run keeps its directory.
export SOAK_SECONDS=${NEMESIS_SECONDS:-30}
export SOAK_GAP=${NEMESIS_GAP:-3}
export SOAK_TIMEOUT_MS=${NEMESIS_TIMEOUT_MS:-2000}
export SOAK_PORT=${NEMESIS_PORT:-24100}
export SOAK_UP_ARGS=${NEMESIS_UP_ARGS:-}
# Without make soak's repair faults (a cut WAL, a replace): 30 s is short.
export SOAK_FAULTS=${NEMESIS_FAULTS:-kill:2 kill_leader:1 restart:5 pause:1 \
pause_leader:1 partition:2 isolate_leader:1 netem:2 disk_delay:2 crash_all:1 heal:3}
[ -z "${NEMESIS_SEED:-}" ] || export SOAK_SEED=$NEMESIS_SEED
exec bash "$(dirname "$0")/soak.sh" "$@"
