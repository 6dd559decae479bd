# CMocka unit tests, one file per module (STYLE.md). Add one line per test.
raft_unit_test(test_rng SOURCES tests/unit/test_rng.c LIBS raftcore)
raft_unit_test(test_kv SOURCES tests/unit/test_kv.c tests/lib/mem_kv.c LIBS raftcore)
raft_unit_test(test_store SOURCES tests/unit/test_store.c LIBS storage)
raft_unit_test(test_replica SOURCES tests/unit/test_replica.c tests/lib/mem_kv.c LIBS raftcore)
raft_unit_test(test_netem SOURCES tests/unit/test_netem.c node/netem.c LIBS raftcore)
raft_unit_test(test_wire SOURCES tests/unit/test_wire.c tests/lib/wire_check.c LIBS common)
raft_unit_test(test_wire_decode SOURCES tests/unit/test_wire_decode.c tests/lib/wire_check.c LIBS common)
raft_unit_test(test_conf SOURCES tests/unit/test_conf.c LIBS common)
