# `make install` / `cmake --install build [--prefix P]`: raftnode and
# raftctl in P/bin, the systemd template unit raftnode@.service in
# P/lib/systemd/system (its ExecStart names P/bin/raftnode, filled in at
# install time so --prefix is honoured), docs/HOSTS.md in P/share/doc/raft.
# Nothing is enabled or started (docs/HOSTS.md says how).
include(GNUInstallDirs)
install(TARGETS raftnode raftctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(CODE "
  set(RAFT_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(RAFT_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATAROOTDIR}/doc/raft\")
  configure_file(\"${CMAKE_SOURCE_DIR}/packaging/raftnode@.service.in\"
                 \"${CMAKE_BINARY_DIR}/raftnode@.service\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/raftnode@.service
        DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/docs/HOSTS.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/raft)

# The install into a temporary prefix, its files and the unit checked.
add_test(NAME install
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install PROPERTIES LABELS unit TIMEOUT 60
  SKIP_RETURN_CODE 77)
