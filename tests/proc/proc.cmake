# Process tests: real raftnode processes driven through raftctl. Each
# script uses its own temporary directory and port range (21000 + 100*k),
# shifted by the build directory's offset (RAFT_PROC_ENV, CMakeLists.txt).
# raft_proc_test(NAME TIMEOUT [SKIP]): tests/proc/test_NAME.sh as test
# proc_NAME, label proc, TIMEOUT seconds; SKIP: exit 77 means skipped.
function(raft_proc_test t timeout)
  add_test(NAME proc_${t}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/proc/test_${t}.sh
            $<TARGET_FILE:raftctl>)
  set_tests_properties(proc_${t} PROPERTIES LABELS proc TIMEOUT ${timeout}
    ENVIRONMENT "${RAFT_PROC_ENV}")
  if(ARGN STREQUAL "SKIP")
    set_tests_properties(proc_${t} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endfunction()

foreach(t election reelection catchup no_majority restart status_json
          exit_codes sqlite second_up bad_conf partition launcher_gone
          bench watch syncer snapshot_catchup snapshot_kill sessions_bounded
          lost_wal up_damaged cli damage_kv damage_log damage_state check
          members members_grow members_one members_retry replace replay
          trace)
  raft_proc_test(${t} 60)
endforeach()
# A full disk on a tmpfs the test mounts (root only: skipped otherwise),
# and a hung disk on the leader (netem --disk-delay). docs/DISK.md.
foreach(t disk_full disk_hung)
  raft_proc_test(${t} 150 SKIP)
endforeach()
# Issue 19 as user nobody would try it (root only: skipped otherwise;
# tests/proc/forge.py is the forger, proxy and fake node). docs/AUTH.md.
raft_proc_test(auth_user 120 SKIP)
# Key rotation by docs/AUTH.md's three steps under writes: nine restarts.
raft_proc_test(auth_rotate 180)
# Snapshot transfers (in proc_snapshot_kill two, the first killed, behind
# netem delay): 20-33 s alone, past 60 s under a saturated ctest -j2.
set_tests_properties(proc_snapshot_kill proc_snapshot_catchup PROPERTIES
  TIMEOUT 120)
# Twenty transfers and five membership changes, each a few raftctl calls.
set_tests_properties(proc_members PROPERTIES TIMEOUT 240)
# Two benches (5 s, 20 s), four adds, four removes, hundreds of gets.
set_tests_properties(proc_members_grow PROPERTIES TIMEOUT 240)
# 3 -> 1 -> 3 voters: four removes and adds, three restarts, 45 puts.
set_tests_properties(proc_members_one PROPERTIES TIMEOUT 180)
# A damaged member replaced: a removal, an add that catches up, the checks.
set_tests_properties(proc_replace PROPERTIES TIMEOUT 180)
# Several hosts on 127.0.0.1-4 (docs/HOSTS.md): raftnode started directly,
# raftctl --config from outside any cluster directory. Skips (77) where
# 127.0.0.3 cannot be bound.
raft_proc_test(hosts 120 SKIP)
# --max-datagram 1400: batches, replies and snapshot chunks within it, a
# too-large write refused (docs/HOSTS.md).
raft_proc_test(max_datagram 120)
