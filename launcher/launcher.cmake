# raftctl: the launcher (supervisor), client commands, status and fault
# injection. `client` is the client library of common/: sessions
# (client_session.c), one-shot queries (client_query.c) and the status poll
# the supervisor and the dashboard share, used by raftctl and the tests;
# `sys` (node/node.cmake) holds the UDP, clock and logging helpers.
add_library(client STATIC
  common/client_session.c
  common/client_query.c
  common/random.c
  common/status_poll.c)
target_link_libraries(client PUBLIC common sys)

# The dashboard's pure parts (event model, rendering model, the recording
# reader and the replay model), shared with tests/unit/test_dash_model.c
# and tests/unit/test_recording.c.
add_library(dashmodel STATIC launcher/events.c launcher/dash_model.c
  launcher/recording_read.c launcher/replay.c launcher/trace_msg.c)
target_link_libraries(dashmodel PUBLIC common PkgConfig::JANSSON)

add_executable(raftctl
  launcher/main.c
  launcher/cluster_dir.c
  launcher/cmd_client.c
  launcher/cmd_cluster.c
  launcher/cmd_fault.c
  launcher/cmd_member.c
  launcher/cmd_keys.c
  launcher/bench.c
  launcher/bench_hist.c
  launcher/cmd_status.c
  launcher/cmd_watch.c
  launcher/trace_source.c
  launcher/cmd_replay.c
  launcher/cmd_check.c
  launcher/dash_source.c
  launcher/dashboard.c
  launcher/dash_term.c
  launcher/recorder.c
  launcher/supervisor.c
  launcher/up_options.c
  launcher/supervisor_client.c
  launcher/supervisor_io.c
  launcher/web.c
  launcher/web_control.c
  launcher/web_http.c
  ${CMAKE_BINARY_DIR}/web_assets.c)
target_link_libraries(raftctl PRIVATE webmodel dashmodel client common sys
  PkgConfig::SQLITE3
  PkgConfig::NCURSES
  PkgConfig::MHD
  PkgConfig::JANSSON
  PkgConfig::SODIUM
  Threads::Threads)

# The web page (launcher/web/*.html, *.js, *.css) as C arrays in raftctl:
# no build step beyond this one, no files to install next to the binary.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
find_package(Threads REQUIRED)
# The page's JSON lines and their stream, shared with tests/unit.
add_library(webmodel STATIC launcher/web_json.c launcher/web_stream.c)
target_link_libraries(webmodel PUBLIC dashmodel sys PkgConfig::JANSSON
  Threads::Threads)
file(GLOB RAFT_WEB_FILES CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/launcher/web/*.html
  ${CMAKE_SOURCE_DIR}/launcher/web/*.js
  ${CMAKE_SOURCE_DIR}/launcher/web/*.css)
string(REPLACE ";" "|" RAFT_WEB_FILES_ARG "${RAFT_WEB_FILES}")
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/web_assets.c
  COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_BINARY_DIR}/web_assets.c
          "-DFILES=${RAFT_WEB_FILES_ARG}"
          -P ${CMAKE_SOURCE_DIR}/launcher/web/embed.cmake
  DEPENDS ${RAFT_WEB_FILES} ${CMAKE_SOURCE_DIR}/launcher/web/embed.cmake
  COMMENT "Embedding the web page" VERBATIM)
