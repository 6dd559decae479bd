# CMocka unit tests, one file per module (STYLE.md). Add one line per test.
raft_unit_test(test_rng SOURCES tests/unit/test_rng.c LIBS raftcore)
