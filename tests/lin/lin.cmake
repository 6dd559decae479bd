# The linearizability checker (lincheck), the nemesis client driver
# (linclient), the hostile-datagram tool (hostile), the checker's unit test,
# and the fault-injection process tests (label proc) that use them.
add_library(lin STATIC tests/lin/lin.c tests/lin/lin_history.c)
target_link_libraries(lin PUBLIC raftcore)

add_executable(lincheck tests/lin/lincheck.c)
target_link_libraries(lincheck PRIVATE lin)

raft_unit_test(test_lin SOURCES tests/unit/test_lin.c LIBS lin)

add_executable(linclient tests/lin/linclient.c)
target_link_libraries(linclient PRIVATE client common sys)
