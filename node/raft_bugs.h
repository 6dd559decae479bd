/*
 * Deliberately broken rules, compiled in only when RAFT_TEETH is defined (the
 * simulator's "teeth" build, never raftnode): each bit switches one Raft rule
 * off so tests can show the simulator catches the violation. In every normal
 * build RAFT_BUG() is the constant 0 and the compiler removes the branch.
 */
#ifndef RAFT_NODE_RAFT_BUGS_H
#define RAFT_NODE_RAFT_BUGS_H

enum raft_bug {
    RAFT_BUG_NO_ELECTION_RESTRICTION = 1u << 0, /* Vote for a stale log. */
    RAFT_BUG_COMMIT_OLD_TERM = 1u << 1,       /* Figure 8: count old entries. */
    RAFT_BUG_TRUNCATE_ON_DUPLICATE = 1u << 2, /* Drop suffix on any append. */
    RAFT_BUG_FORGET_VOTE = 1u << 3,           /* Persist voted_for as none. */
    RAFT_BUG_APPLY_UNCOMMITTED = 1u << 4, /* Apply up to last, not commit. */
    RAFT_BUG_STALE_READ = 1u << 5,        /* ReadIndex without a quorum. */
    RAFT_BUG_NO_STEP_DOWN = 1u << 6,      /* Ignore higher terms in replies. */
    RAFT_BUG_SEND_UNSYNCED = 1u << 7,     /* Replica: send before the sync. */
    RAFT_BUG_COUNT_UNSYNCED = 1u << 8,    /* Leader counts its unsynced log. */
    RAFT_BUG_SNAP_INSTALL_OLD = 1u << 9,  /* Install below our commit. */
    RAFT_BUG_SNAP_COMPACT_UNDURABLE = 1u << 10, /* Replica: compact at the
                                                 * applied, not the durably
                                                 * applied index. */
    RAFT_BUG_SNAP_OLD_CHUNK = 1u << 11,  /* Stage a chunk of an older term
                                         * or another image. */
    RAFT_BUG_SNAP_KEEP_SUFFIX = 1u << 12, /* Keep a conflicting log after
                                           * an install. */
    RAFT_BUG_IGNORE_LOST_ACKED = 1u << 13, /* Leader: ignore a rejection
                                           * showing a follower's log ends
                                           * below its match (stuck). */
    RAFT_BUG_DISK_IGNORED = 1u << 14, /* raft_set_disk_ok(false) changes
                                      * nothing: a leader whose disk is
                                      * full or hung stays leader. */
    RAFT_BUG_SESSION_REVIVE = 1u << 15,   /* Run a request of an expired
                                           * session anyway. */
    RAFT_BUG_SESSION_OWN_LIMIT = 1u << 16, /* Evict with the member's own
                                           * --max-sessions, not the
                                           * register entry's. */
    /* Membership (node/raft_membership.c). */
    RAFT_BUG_JOINT_NEW_ONLY = 1u << 17, /* Joint: C_new's majority only. */
    RAFT_BUG_CHANGE_EARLY = 1u << 18,   /* Change before the term's first
                                         * commit (the 2015 bug). */
    RAFT_BUG_COUNT_LEARNER = 1u << 19,  /* A learner counts in a quorum. */
    RAFT_BUG_TWO_CHANGES = 1u << 20,    /* A change while one is
                                         * uncommitted. */
    RAFT_BUG_COMMITTED_CONF = 1u << 21, /* Quorums of the committed, not
                                         * the latest, configuration. */
    RAFT_BUG_SELF_VOTE_EARLY = 1u << 22 /* A candidate counts its own
                                         * vote before it is durable. */
};

#ifdef RAFT_TEETH
extern unsigned raft_bugs; /* Defined in node/raft.c; set by the simulator. */
#define RAFT_BUG(bit) ((raft_bugs & (bit)) != 0)
#else
#define RAFT_BUG(bit) 0
#endif

#endif
