/*
 * The kv digest behind `raftctl check` (node/node_check.h): one digest at a
 * time, STORE_DIGEST_STEP_ROWS rows per wakeup, its result kept until the
 * applied index moves on. Not pure. Read storage/store_digest.c next.
 */
#include "node/node_check.h"

#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "node/node_int.h"
#include "node/raft.h"
#include "storage/store.h"

static void check_reply(struct node *n, const struct raft_addr *to,
                        uint64_t nonce, uint8_t state)
{
    const struct node_check *c = &n->check;
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = MSG_CHECK_REPLY;
    msg.from = n->id;
    msg.u.check_reply.nonce = nonce;
    msg.u.check_reply.state = state;
    if (state == CHECK_DONE) {
        msg.u.check_reply.applied = c->applied;
        msg.u.check_reply.n_rows = c->n_rows;
        msg.u.check_reply.digest = c->value;
    }
    node_io_reply(n, to, &msg);
}

/* Starts a digest of what is applied now. Errors: fatal ones. */
static int check_begin(struct node *n)
{
    /* The table must hold the applied state: store the buffered writes. */
    int rv = replica_store(n->replica);
    if (rv == ERR_OK) {
        rv = store_digest_begin(n->store, &n->check.digest);
    }
    if (rv != ERR_OK) {
        LOG_WARN("cannot start the kv digest: %s (%s)", err_str(rv),
                 store_errmsg(n->store));
    }
    return rv;
}

void node_check_on_request(struct node *n, const struct raft_addr *from,
                           const struct raft_msg *req)
{
    struct node_check *c = &n->check;
    c->has_asker = true;
    c->asker = *from;
    c->asker_nonce = req->u.check.nonce;
    raft_index applied = raft_applied_index(replica_raft(n->replica));
    if (c->has_result && c->applied == applied) {
        check_reply(n, from, req->u.check.nonce, CHECK_DONE);
        return;
    }
    if (c->digest == NULL && n->now_ms >= c->next_begin_ms) {
        c->next_begin_ms = n->now_ms + NODE_CHECK_INTERVAL_MS;
        if (check_begin(n) != ERR_OK) {
            return; /* No answer: the asker times out (the log says why). */
        }
    }
    check_reply(n, from, req->u.check.nonce, CHECK_BUSY);
}

int node_check_step(struct node *n)
{
    struct node_check *c = &n->check;
    if (c->digest == NULL) {
        return ERR_OK;
    }
    bool done = false;
    int rv = store_digest_step(c->digest, STORE_DIGEST_STEP_ROWS, &done);
    if (rv == ERR_DAMAGED && c->has_asker) {
        check_reply(n, &c->asker, c->asker_nonce, CHECK_DAMAGED);
    }
    if (rv != ERR_OK || done) {
        if (rv == ERR_OK) {
            store_digest_result(c->digest, &c->applied, &c->n_rows, &c->value);
            c->has_result = true;
            LOG_DEBUG("kv digest applied=%llu rows=%llu digest=%016llx",
                      (unsigned long long)c->applied,
                      (unsigned long long)c->n_rows,
                      (unsigned long long)c->value);
        }
        store_digest_free(c->digest);
        c->digest = NULL;
    }
    return rv;
}

void node_check_close(struct node *n)
{
    store_digest_free(n->check.digest);
    n->check.digest = NULL;
}
