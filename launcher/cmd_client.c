/*
 * put, get, del and cas: one request through common/client_session.c,
 * which finds the leader and retries with the same (client_id, seq) until
 * --timeout. Keys and values over the limits are refused here, before
 * anything is sent (exit 2, a usage error). A timeout is exit 3, and for a
 * write the message says its outcome is unknown. Read launcher/cmd_status.c
 * next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/client_session.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"

#define CLIENT_TIMEOUT_MS_DEFAULT 5000
#define CLIENT_TIMEOUT_MS_MAX 3600000

static const struct ctl_opt client_opts[] = {{"--timeout", NULL, true}};

struct client_cmd {
    const char *name;
    uint8_t op;
    int n_args;
    const char *args_usage;
    bool is_write;
};

/* Prints the outcome of a completed call and returns the exit code. */
static int client_cmd_report(const struct client_cmd *cmd,
                             const struct client *c, int rc, uint8_t status,
                             const struct client_request *req,
                             uint32_t timeout_ms, const char *dir)
{
    int shown = req->key_len > 64 ? 64 : (int)req->key_len;
    if (rc == ERR_NO_SPACE) {
        /* Every member answered that its disk is full. When each send got
         * that answer nothing was applied; else an earlier attempt may
         * have been, before the disk filled. */
        const struct client_session *s = &c->session;
        ctl_error("%s: no space left on member %llu (%s)%s", cmd->name,
                  (unsigned long long)s->no_space_id, dir,
                  cmd->is_write && s->n_no_space != s->n_sends
                      ? "; the outcome of an earlier attempt is unknown"
                      : "");
        return CTL_EXIT_ERROR;
    }
    if (rc == ERR_TIMEOUT) {
        if (cmd->is_write) {
            ctl_error("%s: no leader answered within %u ms; the outcome is "
                      "unknown (the write may or may not be applied)",
                      cmd->name, timeout_ms);
        } else {
            ctl_error("%s: no leader answered within %u ms", cmd->name,
                      timeout_ms);
        }
        return CTL_EXIT_UNAVAILABLE;
    }
    if (rc == ERR_INVALID) {
        /* raftctl checked the key and value limits itself: what is left
         * is an entry too large for the members' --max-datagram. */
        ctl_error("%s: the cluster refused the request as invalid%s", cmd->name,
                  cmd->is_write ? " (too large for its members' "
                                  "--max-datagram? docs/HOSTS.md)"
                                : "");
        return CTL_EXIT_ERROR;
    }
    if (rc != ERR_OK) {
        ctl_error("%s: %s", cmd->name, err_str(rc));
        return CTL_EXIT_ERROR;
    }
    if (status == CLIENT_SESSION_EXPIRED) {
        /* Thesis 6.3: an earlier attempt may have been applied before the
         * cluster evicted the session; it will not say which. */
        ctl_error("%s: session expired; the write's outcome is unknown (it "
                  "may or may not be applied)",
                  cmd->name);
        return CTL_EXIT_UNAVAILABLE;
    }
    if (status == CLIENT_NOT_FOUND) {
        ctl_error("%s: key '%.*s' not found", cmd->name, shown,
                  (const char *)req->key);
        return CTL_EXIT_NO;
    }
    if (status == CLIENT_CAS_MISMATCH) {
        ctl_error("%s: the current value of '%.*s' differs from the expected "
                  "one (or the key is absent)",
                  cmd->name, shown, (const char *)req->key);
        return CTL_EXIT_NO;
    }
    if (status != CLIENT_OK) {
        ctl_error("%s: unexpected answer %u", cmd->name, (unsigned)status);
        return CTL_EXIT_ERROR;
    }
    if (req->op == CLIENT_GET) {
        if (c->session.value_len > 0) {
            fwrite(c->session.value, 1, c->session.value_len, stdout);
        }
        fputc('\n', stdout);
    } else {
        fputs("OK\n", stdout);
    }
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

/* The request from the positional arguments (borrowed from argv). */
static void client_cmd_request(const struct client_cmd *cmd,
                               const struct ctl_args *a,
                               struct client_request *req)
{
    memset(req, 0, sizeof(*req));
    req->op = cmd->op;
    req->key = (const uint8_t *)a->pos[0];
    req->key_len = (uint32_t)strlen(a->pos[0]);
    if (cmd->op == CLIENT_PUT) {
        req->value = (const uint8_t *)a->pos[1];
        req->value_len = (uint32_t)strlen(a->pos[1]);
    } else if (cmd->op == CLIENT_CAS) {
        req->expected = (const uint8_t *)a->pos[1];
        req->expected_len = (uint32_t)strlen(a->pos[1]);
        req->value = (const uint8_t *)a->pos[2];
        req->value_len = (uint32_t)strlen(a->pos[2]);
    }
}

/* The test hook RAFTCTL_RESUME=ID:SEQ (docs/SESSIONS.md): send this
 * request in session ID with seq SEQ, as a retry of an earlier one would
 * be. *id stays 0 when unset. Returns the exit code (usage when bad). */
static int client_cmd_resume(const struct client_cmd *cmd, uint64_t *id,
                             uint64_t *seq)
{
    const char *env = getenv("RAFTCTL_RESUME");
    if (env == NULL || env[0] == '\0') {
        return CTL_EXIT_OK;
    }
    char id_text[32];
    const char *colon = strchr(env, ':');
    size_t n = colon != NULL ? (size_t)(colon - env) : 0;
    if (n == 0 || n >= sizeof id_text) {
        ctl_error("%s: RAFTCTL_RESUME must be ID:SEQ", cmd->name);
        return CTL_EXIT_USAGE;
    }
    memcpy(id_text, env, n);
    id_text[n] = '\0';
    if (ctl_parse_u64(id_text, 1, UINT64_MAX, id) != ERR_OK ||
        ctl_parse_u64(colon + 1, 1, UINT64_MAX, seq) != ERR_OK) {
        *id = 0;
        ctl_error("%s: RAFTCTL_RESUME must be ID:SEQ (numbers from 1)",
                  cmd->name);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Parses, checks the limits (nothing is sent when over), runs one request
 * and reports it. Returns the exit code. */
static int client_cmd_run(const struct client_cmd *cmd, int argc, char **argv,
                          const char *dir)
{
    struct ctl_args a = {.cmd = cmd->name, .dir = dir};
    int rc = ctl_parse(argc, argv, client_opts, 1, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != cmd->n_args) {
        ctl_error("usage: raftctl %s %s [--timeout MS]", cmd->name,
                  cmd->args_usage);
        return CTL_EXIT_USAGE;
    }
    uint64_t timeout_ms = CLIENT_TIMEOUT_MS_DEFAULT;
    if (a.given[0] && ctl_parse_u64(a.val[0], 1, CLIENT_TIMEOUT_MS_MAX,
                                    &timeout_ms) != ERR_OK) {
        ctl_error("%s: --timeout must be a number of milliseconds, 1 to %d",
                  cmd->name, CLIENT_TIMEOUT_MS_MAX);
        return CTL_EXIT_USAGE;
    }
    struct client_request req;
    client_cmd_request(cmd, &a, &req);
    char errmsg[ERRMSG_LEN] = "";
    if (client_request_check(&req, errmsg) != ERR_OK) {
        ctl_error("%s: %s; not sent", cmd->name, errmsg);
        return CTL_EXIT_USAGE;
    }
    struct conf conf;
    struct cdir d;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct client c;
    if (client_open(&c, &conf, errmsg) != ERR_OK) {
        ctl_error("%s: %s", cmd->name, errmsg);
        return CTL_EXIT_ERROR;
    }
    uint64_t id = 0, seq = 0;
    rc = client_cmd_resume(cmd, &id, &seq);
    if (rc != CTL_EXIT_OK) {
        client_close(&c);
        return rc;
    }
    if (id != 0) {
        client_session_resume(&c.session, id, seq);
    }
    uint8_t status = CLIENT_RETRY;
    int err = client_call(&c, &req, (uint32_t)timeout_ms, &status);
    rc = client_cmd_report(cmd, &c, err, status, &req, (uint32_t)timeout_ms,
                           d.shown);
    client_close(&c);
    return rc;
}

int cmd_put(int argc, char **argv, const char *dir)
{
    static const struct client_cmd cmd = {"put", CLIENT_PUT, 2, "KEY VALUE",
                                          true};
    return client_cmd_run(&cmd, argc, argv, dir);
}

int cmd_get(int argc, char **argv, const char *dir)
{
    static const struct client_cmd cmd = {"get", CLIENT_GET, 1, "KEY", false};
    return client_cmd_run(&cmd, argc, argv, dir);
}

int cmd_del(int argc, char **argv, const char *dir)
{
    static const struct client_cmd cmd = {"del", CLIENT_DEL, 1, "KEY", true};
    return client_cmd_run(&cmd, argc, argv, dir);
}

int cmd_cas(int argc, char **argv, const char *dir)
{
    static const struct client_cmd cmd = {"cas", CLIENT_CAS, 3,
                                          "KEY EXPECTED NEW", true};
    return client_cmd_run(&cmd, argc, argv, dir);
}
