# Process tests: real raftnode processes driven through raftctl. Each
# script uses its own temporary directory and port range (21000 + 100*k),
# shifted by the build directory's offset (RAFT_PROC_ENV, CMakeLists.txt).
foreach(t election reelection catchup no_majority restart status_json
          exit_codes sqlite second_up bad_conf partition launcher_gone
          bench watch syncer snapshot_catchup snapshot_kill sessions_bounded
          members)
  add_test(NAME proc_${t}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/proc/test_${t}.sh
            $<TARGET_FILE:raftctl>)
  set_tests_properties(proc_${t} PROPERTIES LABELS proc TIMEOUT 60
    ENVIRONMENT "${RAFT_PROC_ENV}")
endforeach()
# Twenty transfers and five membership changes, each a few raftctl calls.
set_tests_properties(proc_members PROPERTIES TIMEOUT 240)
