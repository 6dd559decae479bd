/*
 * raftnode's tuning defaults in one place, each with the reason for its
 * value: timers, batch sizes, the leader's write queue and self-sync, commit
 * notification and the kv write-back. node/main.c checks options against
 * them; node/node.c hands them to the replica and the core. Constants only.
 * Read node/node.c next.
 */
#ifndef RAFT_NODE_DEFAULTS_H
#define RAFT_NODE_DEFAULTS_H

#include "common/timers.h"
#include "common/types.h"
#include "common/wire.h"

/* --- Raft timers (--heartbeat, --election) --- */

/* NODE_HEARTBEAT_MS and NODE_ELECTION_MS: common/timers.h (the launcher
 * checks up's options against them). */

/* --- The poll loop --- */

/* Datagrams read per wakeup: timers and the drain still run under a flood. */
#define NODE_RECV_PER_WAKEUP 256
/* Longest sleep in poll(): the loop looks at its clock at least this often. */
#define NODE_POLL_MS_MAX 1000
/* WARN lines per drop reason, then DEBUG: a hostile flood cannot fill the
 * log. */
#define NODE_DROP_WARN_MAX 5
/* At most one commit-progress INFO line per this interval. */
#define NODE_COMMIT_LOG_MS 1000

/* --- Replication --- */

/* Entry bytes per AppendEntries: a datagram minus the message overhead and
 * slack for the per-entry framing msgpack adds. */
#define NODE_BATCH_BYTES_MAX (RAFT_DATAGRAM_MAX - WIRE_APPEND_OVERHEAD - 1024)
/* --max-datagram N (docs/HOSTS.md; at least RAFT_MAX_DATAGRAM_MIN): the
 * bounds used to fit messages within N: what one entry adds inside an
 * AppendEntries (the core's batching counts as much), and an
 * InstallSnapshot without its chunk. */
#define NODE_ENTRY_WIRE_OVERHEAD 24
#define NODE_SNAPSHOT_MSG_OVERHEAD 160
/* Pipelined AppendEntries per follower: keeps the link busy while earlier
 * batches are acknowledged, and bounds what one loss makes the leader
 * resend. */
#define NODE_INFLIGHT_MAX 8
/* Client requests waiting at the leader; beyond it a request is answered
 * RETRY and its client backs off, so the leader's memory stays bounded. */
#define NODE_PENDING_MAX 4096
/* Applied entries whose payloads stay in memory (and are loaded at start);
 * a lagging follower's older entries are read back from SQLite. Bounds the
 * payload memory to about this many entries at most RAFT_ENTRY_MAX each,
 * plus, at start, the entries the kv table had not applied yet (up to one
 * write-back interval's writes, NODE_KV_STORE_MS). */
#define NODE_MEM_ENTRIES 1024

/* --- The leader's own log write (raft.h self_sync_ms, node/log_writer.c) --- */

/* A leader whose followers commit without it syncs its own log only after
 * its sync would have advanced commit for this long. */
#define NODE_SELF_SYNC_MS 1
/* Meanwhile it writes its queued log once this many entries wait... */
#define NODE_WRITE_BATCH 256
/* ...or once the oldest has waited this long: one write for many entries. */
#define NODE_WRITE_DELAY_MS 5
/* A new commit index rides on the next append with entries, which under
 * load follows within a round; alone only this long after it advanced, or
 * after the follower's acknowledgement if that came later (raft.h
 * commit_notify_ms). */
#define NODE_COMMIT_NOTIFY_MS 2

/* --- Write-back of the applied state to the kv table (kv_writeback.h) --- */

/* One kv transaction per this interval under load: a kv page is written
 * once per store instead of once per entry; the durable log covers a crash. */
#define NODE_KV_STORE_MS 1000
/* Store sooner once no commit came for this long: an idle node catches up. */
#define NODE_KV_STORE_IDLE_MS 250
/* Dirty keys and sessions that force a store at most; the pacer
 * (kv_pacer.h) moves the limit between NODE_KV_STORE_OPS_MIN and this. */
#define NODE_KV_STORE_OPS 16384
/* The pacer's floor: below it a store costs more than it saves. */
#define NODE_KV_STORE_OPS_MIN 256
/* Where the limit starts: the first stores grow it, rather than a first
 * store of NODE_KV_STORE_OPS cold pages stalling the node. */
#define NODE_KV_STORE_OPS_START 1024
/* A store's target duration: it runs on the loop's only thread, so it must
 * stay well under the election timeout. */
#define NODE_KV_STORE_TARGET_MS 50
/* Dirty key and value bytes that force a store: bounds the buffer's memory. */
#define NODE_KV_STORE_BYTES (4u << 20)

/* --- Snapshots and compaction (--snapshot-entries, --log-keep) --- */

/* Compact once the log holds this many entries beyond the kept ones: a log
 * row with its readable columns costs ~450 bytes at 100-byte values
 * (issue 16: 1.9 GB for 4.26 M entries), so 50,000 rows are ~22 MB, well
 * under the 64 MB per member goal with kv and WAL beside them. */
#define NODE_SNAPSHOT_ENTRIES 50000
/* Entries kept behind the point for a follower that is briefly behind
 * (~0.3 s at the 70,000 writes/s full speed, seconds at ordinary load);
 * one further behind gets the snapshot, about 1.3 MB for 10,000 keys. */
#define NODE_LOG_KEEP 20000
/* Compaction steps per wakeup: a step moves the point (the log view hides
 * the rows at once) and drops at most one segment table, which frees its
 * pages without writing them but reads each (2 ms for 8,192 rows of 100
 * bytes, tests/unit/bench_store_snapshot.c; a table ends at 64 MiB of
 * entries, STORE_LOG_SEGMENT_BYTES, so large values make smaller ones),
 * so one a wakeup keeps the loop's stalls short and still drops a
 * compaction's few segments within a few wakeups. */
#define NODE_COMPACT_STEPS 1
/* The log's segment tables (storage/store_logseg.c) hold an eighth of
 * --snapshot-entries plus --log-keep rows each, at least 256: compaction
 * drops them whole, and the view hides the rows waiting in the oldest. */
#define NODE_LOG_SEGMENT_PARTS 8
#define NODE_LOG_SEGMENT_MIN 256
/* A failed image is tried again after this long, not at every drain. */
#define NODE_SNAPSHOT_RETRY_MS 1000
/* Sessions kept (--max-sessions; docs/SESSIONS.md): 10,000 rows (~0.5 MB)
 * are far more than the concurrent clients a member serves (bench runs
 * 64), so only a client idle across 10,000 newer registrations loses its
 * session. The leader writes it into each register entry. */
#define NODE_MAX_SESSIONS 10000

/* A disk (node/node_disk.c, docs/DISK.md). A sync outstanding for
 * NODE_DISK_HUNG_ELECTIONS election timeouts, and at least
 * NODE_DISK_HUNG_MIN_MS, makes the disk hung: a leader then steps down.
 * Six timeouts: a healthy sync under load takes well under one, and the
 * rest of the cluster needs about two to elect another leader. A member
 * out of space checks every NODE_SPACE_CHECK_MS and restarts once
 * NODE_SPACE_RESUME_BYTES are free. */
#define NODE_DISK_HUNG_ELECTIONS 6u
#define NODE_DISK_HUNG_MIN_MS 1000u
#define NODE_SPACE_CHECK_MS 500u
#define NODE_SPACE_RESUME_BYTES (UINT64_C(4) << 20)

#endif
