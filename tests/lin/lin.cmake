# The linearizability checker (lincheck), the nemesis client driver
# (linclient), the hostile-datagram tool (hostile), the checker's unit test,
# and the fault-injection process tests (label proc) that use them.
add_library(lin STATIC tests/lin/lin.c tests/lin/lin_history.c
  tests/lin/lin_memo.c)
target_link_libraries(lin PUBLIC raftcore)

add_executable(lincheck tests/lin/lincheck.c)
target_link_libraries(lincheck PRIVATE lin)

raft_unit_test(test_lin SOURCES tests/unit/test_lin.c LIBS lin)

add_executable(linclient tests/lin/linclient.c)
target_link_libraries(linclient PRIVATE client common sys)

add_executable(hostile tests/lin/hostile.c)
target_link_libraries(hostile PRIVATE client common sys)

# Fault-injection process tests (tests/proc/test_<name>.sh; ports 24100,
# 24200, 24300, 24400, auth 23900; netns its own namespaces). They need the tools
# above next to raftctl; netns exits 77 (skipped) without namespaces.
foreach(t nemesis hostile lossy disk_stall netns auth)
  add_test(NAME proc_${t}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/proc/test_${t}.sh
            $<TARGET_FILE:raftctl>)
  set_tests_properties(proc_${t} PROPERTIES LABELS proc TIMEOUT 150
    SKIP_RETURN_CODE 77
    ENVIRONMENT "${RAFT_PROC_ENV}")
endforeach()

# The nemesis once more with compaction all the time (issue 16): a tiny
# --snapshot-entries, so kills and partitions end in InstallSnapshot.
add_test(NAME proc_nemesis_snapshot
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/proc/test_nemesis.sh
          $<TARGET_FILE:raftctl>)
set_tests_properties(proc_nemesis_snapshot PROPERTIES LABELS proc
  TIMEOUT 150 SKIP_RETURN_CODE 77
  ENVIRONMENT "${RAFT_PROC_ENV};NEMESIS_PORT=25100;NEMESIS_UP_ARGS=--snapshot-entries 64 --log-keep 16")

# lincheck's exit codes on small histories: 0 linearizable, 1 not, 2 bad file.
function(lincheck_case name code)
  add_test(NAME lincheck_${name}
    COMMAND sh -c "\"$1\" \"$2\"; test $? -eq ${code}" lincheck
            $<TARGET_FILE:lincheck>
            ${CMAKE_SOURCE_DIR}/tests/lin/histories/${name}.txt)
  set_tests_properties(lincheck_${name} PROPERTIES LABELS unit)
endfunction()
lincheck_case(ok 0)
lincheck_case(stale 1)
lincheck_case(bad 2)

# make soak's acknowledged-writes audit (tests/proc/soak_audit.py) must count
# exactly the writes a made-up member lost.
add_test(NAME soak_audit
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/proc/test_soak_audit.sh)
set_tests_properties(soak_audit PROPERTIES LABELS unit)
