# Fuzzing of the wire codec and the cluster file parser. With any compiler,
# the *_replay tests (label unit) run the committed seed corpus through the
# fuzz entry points. With clang, fuzz_wire and fuzz_conf are libFuzzer
# binaries with ASan and UBSan (see `make fuzz`). fuzz_gen_corpus rewrites
# tests/fuzz/corpus/wire from the samples in tests/lib/wire_check.c, and
# fuzz_gen_auth_corpus tests/fuzz/corpus/auth (the samples sealed).
set(FUZZ_CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus)

add_executable(fuzz_wire_replay tests/fuzz/fuzz_wire.c tests/fuzz/replay.c
  tests/lib/wire_check.c)
target_link_libraries(fuzz_wire_replay PRIVATE common)
add_test(NAME fuzz_wire_replay
  COMMAND fuzz_wire_replay ${FUZZ_CORPUS}/wire)

add_executable(fuzz_conf_replay tests/fuzz/fuzz_conf.c tests/fuzz/replay.c)
target_link_libraries(fuzz_conf_replay PRIVATE common)
add_test(NAME fuzz_conf_replay
  COMMAND fuzz_conf_replay ${FUZZ_CORPUS}/conf)

# The datagram envelope (common/auth.c): tagged samples, accepted once.
add_executable(fuzz_auth_replay tests/fuzz/fuzz_auth.c tests/fuzz/replay.c)
target_link_libraries(fuzz_auth_replay PRIVATE sys common)
add_test(NAME fuzz_auth_replay
  COMMAND fuzz_auth_replay ${FUZZ_CORPUS}/auth)

set_tests_properties(fuzz_wire_replay fuzz_conf_replay fuzz_auth_replay
  PROPERTIES LABELS unit TIMEOUT 120)

add_executable(fuzz_gen_corpus EXCLUDE_FROM_ALL tests/fuzz/gen_corpus.c
  tests/lib/wire_check.c)
target_link_libraries(fuzz_gen_corpus PRIVATE common)
add_executable(fuzz_gen_auth_corpus EXCLUDE_FROM_ALL
  tests/fuzz/gen_auth_corpus.c tests/lib/wire_check.c)
target_link_libraries(fuzz_gen_auth_corpus PRIVATE sys common)

if(CMAKE_C_COMPILER_ID STREQUAL Clang)
  # The code under test is compiled into each fuzzer, so that it carries the
  # coverage instrumentation (the common library does not).
  set(FUZZ_FLAGS -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_executable(fuzz_wire tests/fuzz/fuzz_wire.c tests/lib/wire_check.c
    common/wire.c common/err.c common/invariant.c)
  target_link_libraries(fuzz_wire PRIVATE PkgConfig::MSGPACK)
  add_executable(fuzz_conf tests/fuzz/fuzz_conf.c common/conf.c
    common/err.c common/invariant.c)
  add_executable(fuzz_auth tests/fuzz/fuzz_auth.c common/auth.c
    common/wire.c common/err.c common/invariant.c)
  target_link_libraries(fuzz_auth PRIVATE PkgConfig::MSGPACK
    PkgConfig::SODIUM)
  foreach(t fuzz_wire fuzz_conf fuzz_auth)
    target_compile_options(${t} PRIVATE ${FUZZ_FLAGS})
    target_link_options(${t} PRIVATE ${FUZZ_FLAGS})
  endforeach()
endif()
