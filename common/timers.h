/*
 * The Raft timer defaults, shared by raftnode (node/defaults.h) and the
 * launcher, which checks `up --heartbeat/--election` against them before
 * it starts anything.
 */
#ifndef RAFT_COMMON_TIMERS_H
#define RAFT_COMMON_TIMERS_H

/* A leader's empty AppendEntries interval: a third of the election timeout,
 * so two lost heartbeats do not start an election. */
#define NODE_HEARTBEAT_MS 50
/* Election timeout, randomized in [1x, 2x): well above a loopback or LAN
 * round trip, short enough that a failover takes a fraction of a second. */
#define NODE_ELECTION_MS 150

#endif
