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

# The dashboard's pure parts (event model, rendering model), shared with
# tests/unit/test_dash_model.c.
add_library(dashmodel STATIC launcher/events.c launcher/dash_model.c
  launcher/trace_msg.c)
target_link_libraries(dashmodel PUBLIC common)

add_executable(raftctl
  launcher/main.c
  launcher/cluster_dir.c
  launcher/cmd_client.c
  launcher/cmd_cluster.c
  launcher/cmd_fault.c
  launcher/cmd_member.c
  launcher/bench.c
  launcher/bench_hist.c
  launcher/cmd_status.c
  launcher/cmd_watch.c
  launcher/trace_source.c
  launcher/cmd_check.c
  launcher/dash_source.c
  launcher/dashboard.c
  launcher/supervisor.c
  launcher/up_options.c
  launcher/supervisor_client.c
  launcher/supervisor_io.c)
target_link_libraries(raftctl PRIVATE dashmodel client common sys
  PkgConfig::SQLITE3
  PkgConfig::NCURSES)
