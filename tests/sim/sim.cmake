# The deterministic simulator (tests/sim): raftsim runs the real core, kv and
# replica of many nodes in one process; raftsim_teeth is the same harness
# over a copy of the core built with RAFT_TEETH, whose --bug NAME breaks one
# Raft rule so the tests below can show the simulator catches it.
set(SIM_SOURCES
  tests/sim/sim_world.c
  tests/sim/sim_node.c
  tests/sim/sim_net.c
  tests/sim/sim_disk.c
  tests/sim/sim_snap.c
  tests/sim/sim_client.c
  tests/sim/sim_check.c
  tests/sim/sim_member.c
  tests/sim/sim_trace.c
  tests/sim/sim_record.c
  tests/lib/mem_kv.c)
# The world links no core: each executable picks raftcore or raftcore_teeth.
add_library(raftsim_world STATIC ${SIM_SOURCES})

add_executable(raftsim tests/sim/sim.c)
target_link_libraries(raftsim PRIVATE raftsim_world common)

# The same core sources as raftcore, with the broken rules compiled in.
add_library(raftcore_teeth STATIC
  common/command.c
  common/err.c
  common/invariant.c
  common/rng.c
  common/membership.c
  node/raft.c
  node/raft_log.c
  node/raft_membership.c
  node/raft_election.c
  node/raft_replication.c
  node/raft_read.c
  node/raft_sync.c
  node/raft_snapshot.c
  node/kv.c
  node/kv_writeback.c
  node/durable.c
  node/replica_plan.c
  node/replica.c
  node/replica_snapshot.c
  node/snapshot_send.c
  node/snapshot_recv.c)
target_compile_definitions(raftcore_teeth PUBLIC RAFT_TEETH)

add_executable(raftsim_teeth tests/sim/sim.c common/wire.c common/recording.c)
target_compile_definitions(raftsim_teeth PRIVATE RAFT_TEETH)
target_link_libraries(raftsim_teeth PRIVATE raftsim_world raftcore_teeth
  PkgConfig::MSGPACK)

# Hand-made scenarios over the same world (fixed latencies, no faults).
add_executable(test_sim_scenarios tests/sim/test_scenarios.c)
target_link_libraries(test_sim_scenarios PRIVATE raftsim_world common
  PkgConfig::CMOCKA)
add_test(NAME test_sim_scenarios COMMAND test_sim_scenarios)
set_tests_properties(test_sim_scenarios PROPERTIES LABELS sim TIMEOUT 120)

# CI seeds: a fixed list (every seed that ever failed, with its bug) plus a
# range, split in two so ctest -j2 runs them side by side.
set(SIM_CI_STEPS 10000 CACHE STRING "Fault-phase events per CI seed")
add_test(NAME sim_seeds_fixed
  COMMAND raftsim --seed-file ${CMAKE_SOURCE_DIR}/tests/sim/seeds.txt
          --steps ${SIM_CI_STEPS})
add_test(NAME sim_range_a
  COMMAND raftsim --seeds 1..1000 --steps ${SIM_CI_STEPS})
add_test(NAME sim_range_b
  COMMAND raftsim --seeds 1001..2000 --steps ${SIM_CI_STEPS})
# Replaying a seed gives the same trace, byte for byte.
add_test(NAME sim_determinism
  COMMAND ${CMAKE_SOURCE_DIR}/tests/sim/determinism.sh $<TARGET_FILE:raftsim>)
# Sanitized builds run each seed many times slower: with snapshots on a
# third of the seeds, make asan took 286 s and 324 s for the two ranges on
# a quiet 2-core machine (19 s and 21 s unsanitized), near 600 on a busy one.
if(SANITIZE)
  set(SIM_TIMEOUT 1500)
else()
  set(SIM_TIMEOUT 600)
endif()
set_tests_properties(sim_seeds_fixed sim_range_a sim_range_b sim_determinism
  PROPERTIES LABELS sim TIMEOUT ${SIM_TIMEOUT})

# Teeth: each broken rule must be caught somewhere in the CI seed range
# (--stop: the first failing seed ends the run). First catching seed, 10000
# steps: no_election_restriction 1 (leader_completeness), commit_old_term 189
# (leader_completeness), truncate_on_duplicate 3 (leader_completeness),
# forget_vote 1 (persist_before_send; with that and hardstate_durable
# skipped, election_safety at 326), apply_uncommitted 1 (commit_durable),
# stale_read 12 (linearizable_read), no_step_down 16 (liveness),
# send_unsynced 3 (persist_before_send; only seeds with asynchronous sync,
# about half), count_unsynced 49 (commit_durable). Rates over 2000 seeds:
# 1-100%; the rarest ~1.2%; count_unsynced 87 of 2000 (~4%).
# Snapshots (a third of the seeds compact): snap_install_old 0x2f
# (snapshot_monotonic), snap_compact_undurable 7 (compact_durable),
# snap_old_chunk 0x42 (snapshot_image), snap_keep_suffix 0x1db
# (log_matching). Sessions: session_revive 3 (exactly_once; 81 of seeds
# 1..300), session_own_limit 1 (sessions; 128 of 300). Disk faults (a
# quarter of the seeds): disk_ignored 3 (hung_leader).
# Membership (a third of the seeds change it, down to one voter):
# joint_new_only 0xd, change_early 1 (change_after_term_commit),
# count_learner 0xd, committed_conf 1 (all three joint_quorum),
# two_changes 1 (one_change), self_vote_early 2 (persist_before_send: a
# single voter's appends; skipping it, log_matching 0x12e; skipping that
# too, committed_truncated 0x16f).
foreach(bug no_election_restriction commit_old_term truncate_on_duplicate
            forget_vote apply_uncommitted stale_read no_step_down
            send_unsynced count_unsynced snap_install_old
            snap_compact_undurable snap_old_chunk snap_keep_suffix
            session_revive session_own_limit disk_ignored joint_new_only
            change_early count_learner two_changes committed_conf
            self_vote_early)
  add_test(NAME sim_teeth_${bug}
    COMMAND raftsim_teeth --bug ${bug} --seeds 1..2000
            --steps ${SIM_CI_STEPS} --stop)
  set_tests_properties(sim_teeth_${bug} PROPERTIES LABELS sim TIMEOUT 600
    PASS_REGULAR_EXPRESSION "FAILED seed=0x[0-9a-f]+ check=")
endforeach()

# The scenarios must notice the rules they are about: built over the teeth
# core, with RAFT_BUGS naming one broken rule, the matching test fails.
add_executable(test_sim_scenarios_teeth tests/sim/test_scenarios.c
  tests/unit/teeth_env.c common/wire.c common/recording.c)
target_compile_definitions(test_sim_scenarios_teeth PRIVATE RAFT_TEETH)
target_link_libraries(test_sim_scenarios_teeth PRIVATE raftsim_world
  raftcore_teeth PkgConfig::MSGPACK PkgConfig::CMOCKA)
add_test(NAME test_sim_scenarios_teeth
  COMMAND ${CMAKE_SOURCE_DIR}/tests/sim/scenario_teeth.sh
          $<TARGET_FILE:test_sim_scenarios_teeth>)
set_tests_properties(test_sim_scenarios_teeth PROPERTIES LABELS sim TIMEOUT 120)

# Recordings (docs/RECORDING.md): --record leaves a seed's run unchanged,
# and a seed failing with a broken rule replays with the violation marked
# at the moment the simulator reported it.
add_test(NAME sim_replay_violation
  COMMAND ${CMAKE_SOURCE_DIR}/tests/sim/replay_violation.sh
          $<TARGET_FILE:raftsim> $<TARGET_FILE:raftsim_teeth>
          $<TARGET_FILE:raftctl>)
set_tests_properties(sim_replay_violation PROPERTIES LABELS sim TIMEOUT 120)
