# Fuzzing of the wire codec and the cluster file parser. With any compiler,
# the *_replay tests (label unit) run the committed seed corpus through the
# fuzz entry points. With clang, fuzz_wire and fuzz_conf are libFuzzer
# binaries with ASan and UBSan (see `make fuzz`). fuzz_gen_corpus rewrites
# tests/fuzz/corpus/wire from the samples in tests/lib/wire_check.c.
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

set_tests_properties(fuzz_wire_replay fuzz_conf_replay
  PROPERTIES LABELS unit TIMEOUT 120)

add_executable(fuzz_gen_corpus EXCLUDE_FROM_ALL tests/fuzz/gen_corpus.c
  tests/lib/wire_check.c)
target_link_libraries(fuzz_gen_corpus PRIVATE common)

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
  foreach(t fuzz_wire fuzz_conf)
    target_compile_options(${t} PRIVATE ${FUZZ_FLAGS})
    target_link_options(${t} PRIVATE ${FUZZ_FLAGS})
  endforeach()
endif()
