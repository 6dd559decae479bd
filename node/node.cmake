# raftnode: the runtime (poll loop, UDP, netem) over the pure core.
# `sys` holds the small non-pure helpers raftnode and raftctl share
# (logging, UDP sockets with their tags, the client outbox, the clock).
add_library(sys STATIC
  common/log.c
  common/udp.c
  common/auth.c
  common/outbox.c
  common/clock.c)
target_link_libraries(sys PUBLIC common raftcore PkgConfig::SODIUM)

add_library(runtime STATIC
  node/node.c
  node/node_control.c
  node/node_disk.c
  node/node_snapshot.c
  node/node_check.c
  node/node_members.c
  node/node_kv.c
  node/netem.c
  node/trace.c
  node/kv_pacer.c
  node/log_writer.c
  node/syncer.c)
target_link_libraries(runtime PUBLIC sys common storage raftcore)

add_executable(raftnode node/main.c)
target_link_libraries(raftnode PRIVATE runtime)
