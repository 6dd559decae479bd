# CMocka unit tests, one file per module (STYLE.md). Add one line per test.
raft_unit_test(test_rng SOURCES tests/unit/test_rng.c LIBS raftcore)
raft_unit_test(test_kv SOURCES tests/unit/test_kv.c tests/lib/mem_kv.c LIBS raftcore)
raft_unit_test(test_command SOURCES tests/unit/test_command.c LIBS raftcore)
raft_unit_test(test_store SOURCES tests/unit/test_store.c node/node_kv.c
  LIBS storage)
raft_unit_test(test_row_crc SOURCES tests/unit/test_row_crc.c LIBS storage)
raft_unit_test(test_raft SOURCES tests/unit/test_raft.c LIBS raftcore)
raft_unit_test(test_wire SOURCES tests/unit/test_wire.c tests/lib/wire_check.c LIBS common)
raft_unit_test(test_wire_decode SOURCES tests/unit/test_wire_decode.c tests/lib/wire_check.c LIBS common)
raft_unit_test(test_conf SOURCES tests/unit/test_conf.c LIBS common)
raft_unit_test(test_membership SOURCES tests/unit/test_membership.c LIBS common)
# The core's unit tests again, built with every rule switchable
# (node/raft_bugs.h): each broken rule must make some test fail: those of
# Figure 2 (1-64) and 8192 ignore_lost_acked (issue 17).
add_executable(test_raft_teeth tests/unit/test_raft.c tests/unit/teeth_env.c
  node/raft.c node/raft_log.c node/raft_election.c node/raft_replication.c
  node/raft_read.c node/raft_sync.c node/raft_snapshot.c node/raft_membership.c common/membership.c common/rng.c
  common/err.c common/invariant.c)
target_compile_definitions(test_raft_teeth PRIVATE RAFT_TEETH)
target_link_libraries(test_raft_teeth PRIVATE PkgConfig::CMOCKA)
add_test(NAME test_raft_teeth
  COMMAND ${CMAKE_SOURCE_DIR}/tests/unit/teeth.sh $<TARGET_FILE:test_raft_teeth>
  1 2 4 8 16 32 64 8192 16384)
set_tests_properties(test_raft_teeth PROPERTIES LABELS unit TIMEOUT 120)
raft_unit_test(test_replica SOURCES tests/unit/test_replica.c
  tests/unit/replica_harness.c tests/lib/mem_kv.c LIBS raftcore)
raft_unit_test(test_replica_async SOURCES tests/unit/test_replica_async.c
  tests/unit/replica_harness.c tests/lib/mem_kv.c LIBS raftcore)
raft_unit_test(test_netem SOURCES tests/unit/test_netem.c node/netem.c LIBS raftcore)
raft_unit_test(test_trace SOURCES tests/unit/test_trace.c node/trace.c LIBS common)
raft_unit_test(test_client SOURCES tests/unit/test_client.c LIBS client)
raft_unit_test(test_status_poll SOURCES tests/unit/test_status_poll.c LIBS client)
raft_unit_test(test_auth SOURCES tests/unit/test_auth.c LIBS sys)
raft_unit_test(test_bench_hist SOURCES tests/unit/test_bench_hist.c launcher/bench_hist.c LIBS common)
raft_unit_test(test_session_cache SOURCES tests/unit/test_session_cache.c LIBS storage)
raft_unit_test(test_events SOURCES tests/unit/test_events.c LIBS dashmodel)
raft_unit_test(test_dash_model SOURCES tests/unit/test_dash_model.c LIBS dashmodel)
raft_unit_test(test_recording SOURCES tests/unit/test_recording.c LIBS dashmodel)
raft_unit_test(test_kv_writeback SOURCES tests/unit/test_kv_writeback.c
  tests/lib/kv_recorder.c tests/lib/mem_kv.c LIBS raftcore)
raft_unit_test(test_kv_pacer SOURCES tests/unit/test_kv_pacer.c tests/lib/mem_kv.c LIBS runtime)
raft_unit_test(test_durable SOURCES tests/unit/test_durable.c LIBS raftcore)
raft_unit_test(test_replica_plan SOURCES tests/unit/test_replica_plan.c LIBS raftcore)
raft_unit_test(test_raft_async SOURCES tests/unit/test_raft_async.c LIBS raftcore)
raft_unit_test(test_syncer SOURCES tests/unit/test_syncer.c LIBS runtime)
raft_unit_test(test_log_writer SOURCES tests/unit/test_log_writer.c LIBS runtime)
raft_unit_test(test_store_queue SOURCES tests/unit/test_store_queue.c LIBS storage)
raft_unit_test(test_snapshot_image SOURCES tests/unit/test_snapshot_image.c LIBS raftcore)
raft_unit_test(test_store_snapshot SOURCES tests/unit/test_store_snapshot.c LIBS storage)
# A benchmark, not a test: compaction step times and image MB/s.
add_executable(bench_store_snapshot tests/unit/bench_store_snapshot.c)
target_link_libraries(bench_store_snapshot PRIVATE storage)
raft_unit_test(test_snapshot_send SOURCES tests/unit/test_snapshot_send.c LIBS raftcore)
raft_unit_test(test_snapshot_recv SOURCES tests/unit/test_snapshot_recv.c LIBS raftcore)
raft_unit_test(test_raft_snapshot SOURCES tests/unit/test_raft_snapshot.c LIBS raftcore)
# The snapshot rules with their broken variants (node/raft_bugs.h):
# 512 snap_install_old, 2048 snap_old_chunk, 4096 snap_keep_suffix.
add_executable(test_raft_snapshot_teeth tests/unit/test_raft_snapshot.c
  tests/unit/teeth_env.c node/raft.c node/raft_log.c node/raft_election.c
  node/raft_replication.c node/raft_read.c node/raft_sync.c
  node/raft_snapshot.c node/raft_membership.c common/membership.c common/rng.c common/err.c common/invariant.c)
target_compile_definitions(test_raft_snapshot_teeth PRIVATE RAFT_TEETH)
target_link_libraries(test_raft_snapshot_teeth PRIVATE PkgConfig::CMOCKA)
add_test(NAME test_raft_snapshot_teeth
  COMMAND ${CMAKE_SOURCE_DIR}/tests/unit/teeth.sh
          $<TARGET_FILE:test_raft_snapshot_teeth> 512 2048 4096)
set_tests_properties(test_raft_snapshot_teeth PROPERTIES LABELS unit TIMEOUT 120)
raft_unit_test(test_up_options SOURCES tests/unit/test_up_options.c
  launcher/up_options.c launcher/cluster_dir.c LIBS sys)
raft_unit_test(test_web_json SOURCES tests/unit/test_web_json.c LIBS webmodel)
raft_unit_test(test_web_stream SOURCES tests/unit/test_web_stream.c LIBS webmodel)
