/*
 * The cluster file parser of common/conf.h: one "ID HOST:PORT" member per
 * line ("[v6addr]:PORT" for IPv6), '#' comments, blank lines and an optional
 * "cluster HEX" line. Without that line the cluster id is the 64-bit FNV-1a
 * hash of the members written as "ID HOST:PORT\n" sorted by id. Parsing works
 * on spans of the caller's text, copies only what it keeps, and reports the
 * first error with its line number. Read common/udp.h next.
 */
#include "common/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/invariant.h"

#define CONF_FILE_MAX (64 * 1024) /* Bytes read by conf_load(), at most. */
#define CONF_SHOW_MAX 40          /* Bytes of a bad token quoted back. */
#define CONF_TOKENS_MAX 3         /* Two expected, a third is garbage. */

struct conf_span {
    const char *p;
    size_t len;
};

struct conf_parser {
    const char *name; /* File name for messages; NULL gives "line N". */
    size_t line;      /* 1-based; 0 for errors about the whole file. */
    bool has_cluster;
    struct conf conf;
    char *errmsg;
};

/* Formats "NAME:LINE: msg" (or "line LINE: msg") into errmsg; returns
 * ERR_INVALID so callers can write return conf_fail(...). */
__attribute__((format(printf, 2, 3))) static int
conf_fail(struct conf_parser *ps, const char *fmt, ...)
{
    if (ps->errmsg == NULL) {
        return ERR_INVALID;
    }
    int n = 0;
    if (ps->name != NULL && ps->line > 0) {
        n = snprintf(ps->errmsg, ERRMSG_LEN, "%s:%zu: ", ps->name, ps->line);
    } else if (ps->name != NULL) {
        n = snprintf(ps->errmsg, ERRMSG_LEN, "%s: ", ps->name);
    } else if (ps->line > 0) {
        n = snprintf(ps->errmsg, ERRMSG_LEN, "line %zu: ", ps->line);
    }
    if (n < 0) {
        n = 0;
    }
    if (n >= ERRMSG_LEN) {
        n = ERRMSG_LEN - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->errmsg + n, (size_t)(ERRMSG_LEN - n), fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

/* Length of a span as an int for "%.*s", capped for messages. */
static int show_len(struct conf_span s)
{
    return s.len > CONF_SHOW_MAX ? CONF_SHOW_MAX : (int)s.len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool span_is(struct conf_span s, const char *word)
{
    return s.len == strlen(word) && memcmp(s.p, word, s.len) == 0;
}

/* Splits [p, end) at whitespace into at most max tokens; returns how many. */
static int split_tokens(const char *p, const char *end, struct conf_span *tok,
                        int max)
{
    int n = 0;
    while (n < max) {
        while (p < end && is_space(*p)) {
            p++;
        }
        if (p == end) {
            break;
        }
        const char *start = p;
        while (p < end && !is_space(*p)) {
            p++;
        }
        tok[n].p = start;
        tok[n].len = (size_t)(p - start);
        n++;
    }
    return n;
}

/* A decimal number of digits only, no larger than max. */
static bool parse_decimal(struct conf_span s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.p[i])) {
            return false;
        }
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > max) {
            return false;
        }
    }
    *out = v;
    return true;
}

/* Host names and addresses: letters, digits, '.', '-', '_'; inside
 * brackets also ':' and '%' (an IPv6 zone). */
static bool host_chars_ok(struct conf_span h, bool bracketed)
{
    for (size_t i = 0; i < h.len; i++) {
        char c = h.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  is_digit(c) || c == '.' || c == '-' || c == '_' ||
                  (bracketed && (c == ':' || c == '%'));
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into host and port spans. */
static int split_address(struct conf_parser *ps, struct conf_span a,
                         struct conf_span *host, struct conf_span *port)
{
    const char *end = a.p + a.len;
    const char *colon;
    if (a.p[0] == '[') {
        const char *close = memchr(a.p, ']', a.len);
        if (close == NULL) {
            return conf_fail(ps, "missing ']' in address '%.*s'", show_len(a),
                             a.p);
        }
        *host = (struct conf_span){a.p + 1, (size_t)(close - a.p - 1)};
        if (close + 1 == end) {
            return conf_fail(ps, "missing port in '%.*s'", show_len(a), a.p);
        }
        if (close[1] != ':') {
            return conf_fail(ps, "bad address '%.*s'", show_len(a), a.p);
        }
        /* Brackets mark IPv6 only, so the normalized form keeps them. */
        if (host->len > 0 && memchr(host->p, ':', host->len) == NULL) {
            return conf_fail(ps, "brackets are only for IPv6: '%.*s'",
                             show_len(a), a.p);
        }
        colon = close + 1;
    } else {
        colon = memrchr(a.p, ':', a.len);
        if (colon == NULL) {
            return conf_fail(ps, "missing port in '%.*s'", show_len(a), a.p);
        }
        *host = (struct conf_span){a.p, (size_t)(colon - a.p)};
        if (memchr(host->p, ':', host->len) != NULL) {
            return conf_fail(ps, "IPv6 address needs brackets: '%.*s'",
                             show_len(a), a.p);
        }
    }
    *port = (struct conf_span){colon + 1, (size_t)(end - colon - 1)};
    return ERR_OK;
}

/* Parses the address token of a member line into m->host and m->port. */
static int parse_address(struct conf_parser *ps, struct conf_span a,
                         struct conf_member *m)
{
    /* Set by split_address on success; initialized for GCC at -O3, which
     * cannot see that and warns. */
    struct conf_span host = {NULL, 0};
    struct conf_span port = {NULL, 0};
    uint64_t port_value;
    int rc = split_address(ps, a, &host, &port);
    if (rc != ERR_OK) {
        return rc;
    }
    if (host.len == 0) {
        return conf_fail(ps, "missing host in '%.*s'", show_len(a), a.p);
    }
    if (host.len > CONF_HOST_MAX) {
        return conf_fail(ps, "host too long (%zu bytes, max %d)", host.len,
                         CONF_HOST_MAX);
    }
    if (!host_chars_ok(host, a.p[0] == '[')) {
        return conf_fail(ps, "bad host '%.*s'", show_len(host), host.p);
    }
    if (port.len == 0) {
        return conf_fail(ps, "missing port in '%.*s'", show_len(a), a.p);
    }
    if (!parse_decimal(port, UINT16_MAX, &port_value) || port_value == 0) {
        return conf_fail(ps, "bad port '%.*s' (1-65535)", show_len(port),
                         port.p);
    }
    memcpy(m->host, host.p, host.len);
    m->host[host.len] = '\0';
    m->port = (uint16_t)port_value;
    return ERR_OK;
}

/* Rejects a member whose id or address is already listed. */
static int check_unique(struct conf_parser *ps, const struct conf_member *m)
{
    for (uint32_t i = 0; i < ps->conf.n_members; i++) {
        const struct conf_member *o = &ps->conf.members[i];
        if (o->id == m->id) {
            return conf_fail(ps, "duplicate id %llu",
                             (unsigned long long)m->id);
        }
        if (o->port == m->port && strcasecmp(o->host, m->host) == 0) {
            return conf_fail(ps, "duplicate address %s:%u (ids %llu and %llu)",
                             m->host, (unsigned)m->port,
                             (unsigned long long)o->id,
                             (unsigned long long)m->id);
        }
    }
    return ERR_OK;
}

/* "ID HOST:PORT". */
static int parse_member(struct conf_parser *ps, const struct conf_span *tok,
                        int n)
{
    struct conf_member m;
    memset(&m, 0, sizeof m);
    if (!parse_decimal(tok[0], RAFT_ID_MAX, &m.id) || m.id == 0) {
        return conf_fail(ps, "bad id '%.*s' (1-%u)", show_len(tok[0]), tok[0].p,
                         RAFT_ID_MAX);
    }
    if (n < 2) {
        return conf_fail(ps, "missing address after id %llu",
                         (unsigned long long)m.id);
    }
    int rc = parse_address(ps, tok[1], &m);
    if (rc != ERR_OK) {
        return rc;
    }
    if (n > 2) {
        return conf_fail(ps, "garbage after the address: '%.*s'",
                         show_len(tok[2]), tok[2].p);
    }
    rc = check_unique(ps, &m);
    if (rc != ERR_OK) {
        return rc;
    }
    if (ps->conf.n_members == RAFT_NODES_MAX) {
        return conf_fail(ps, "too many members (max %d)", RAFT_NODES_MAX);
    }
    ps->conf.members[ps->conf.n_members++] = m;
    return ERR_OK;
}

/* "cluster HEX": a nonzero id of at most 16 hex digits, "0x" optional. */
static int parse_cluster(struct conf_parser *ps, const struct conf_span *tok,
                         int n)
{
    if (ps->has_cluster) {
        return conf_fail(ps, "duplicate cluster line");
    }
    if (n < 2) {
        return conf_fail(ps, "missing cluster id");
    }
    if (n > 2) {
        return conf_fail(ps, "garbage after the cluster id: '%.*s'",
                         show_len(tok[2]), tok[2].p);
    }
    struct conf_span h = tok[1];
    if (h.len > 2 && h.p[0] == '0' && (h.p[1] == 'x' || h.p[1] == 'X')) {
        h.p += 2;
        h.len -= 2;
    }
    uint64_t v = 0;
    bool ok = h.len >= 1 && h.len <= 16;
    for (size_t i = 0; ok && i < h.len; i++) {
        int d = hex_value(h.p[i]);
        ok = d >= 0;
        v = (v << 4) | (uint64_t)(d & 0xf);
    }
    if (!ok || v == 0) {
        return conf_fail(ps,
                         "bad cluster id '%.*s' (nonzero hex, 16 digits max)",
                         show_len(tok[1]), tok[1].p);
    }
    ps->has_cluster = true;
    ps->conf.cluster_id = v;
    return ERR_OK;
}

/* One line, [p, end) without its newline. */
static int parse_line(struct conf_parser *ps, const char *p, const char *end)
{
    struct conf_span tok[CONF_TOKENS_MAX];
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash != NULL) {
        end = hash;
    }
    int n = split_tokens(p, end, tok, CONF_TOKENS_MAX);
    if (n == 0) {
        return ERR_OK;
    }
    if (span_is(tok[0], "cluster")) {
        return parse_cluster(ps, tok, n);
    }
    return parse_member(ps, tok, n);
}

static void sort_members(struct conf *c)
{
    for (uint32_t i = 1; i < c->n_members; i++) {
        struct conf_member m = c->members[i];
        uint32_t j = i;
        while (j > 0 && c->members[j - 1].id > m.id) {
            c->members[j] = c->members[j - 1];
            j--;
        }
        c->members[j] = m;
    }
}

/* FNV-1a over "ID HOST:PORT\n" per member in id order; never 0. */
static uint64_t hash_members(const struct conf *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < c->n_members; i++) {
        const struct conf_member *m = &c->members[i];
        char line[CONF_HOST_MAX + 48];
        bool v6 = strchr(m->host, ':') != NULL;
        int n = snprintf(line, sizeof line, "%llu %s%s%s:%u\n",
                         (unsigned long long)m->id, v6 ? "[" : "", m->host,
                         v6 ? "]" : "", (unsigned)m->port);
        ASSERT(n > 0 && (size_t)n < sizeof line);
        for (int k = 0; k < n; k++) {
            h ^= (uint8_t)line[k];
            h *= 0x100000001b3ull;
        }
    }
    return h != 0 ? h : 1;
}

static int conf_parse_named(const char *text, const char *name,
                            struct conf *out, char errmsg[ERRMSG_LEN])
{
    ASSERT(text != NULL);
    ASSERT(out != NULL);
    struct conf_parser ps;
    memset(&ps, 0, sizeof ps);
    ps.name = name;
    ps.errmsg = errmsg;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        const char *end = nl != NULL ? nl : p + strlen(p);
        ps.line++;
        int rc = parse_line(&ps, p, end);
        if (rc != ERR_OK) {
            return rc;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    ps.line = 0;
    if (ps.conf.n_members == 0) {
        return conf_fail(&ps, "no members");
    }
    sort_members(&ps.conf);
    if (!ps.has_cluster) {
        ps.conf.cluster_id = hash_members(&ps.conf);
    }
    ASSERT(ps.conf.cluster_id != 0);
    *out = ps.conf;
    return ERR_OK;
}

int conf_parse(const char *text, struct conf *out, char errmsg[ERRMSG_LEN])
{
    return conf_parse_named(text, NULL, out, errmsg);
}

/* Reads at most CONF_FILE_MAX bytes of path into a NUL-terminated heap
 * buffer. Errors: ERR_NOT_FOUND, ERR_IO, ERR_INVALID (too large, NUL). */
static int read_file(struct conf_parser *ps, const char *path, char **text)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int rc = errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
        conf_fail(ps, "%s", strerror(errno));
        return rc;
    }
    char *buf = malloc(CONF_FILE_MAX + 2);
    if (buf == NULL) {
        fclose(f);
        return ERR_NOMEM;
    }
    size_t n = fread(buf, 1, CONF_FILE_MAX + 1, f);
    int rc = ERR_OK;
    if (ferror(f)) {
        rc = ERR_IO;
        conf_fail(ps, "read failed: %s", strerror(errno));
    } else if (n > CONF_FILE_MAX) {
        rc = conf_fail(ps, "larger than %d bytes", CONF_FILE_MAX);
    } else if (memchr(buf, '\0', n) != NULL) {
        rc = conf_fail(ps, "contains a NUL byte");
    }
    fclose(f);
    if (rc != ERR_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    return ERR_OK;
}

int conf_load(const char *path, struct conf *out, char errmsg[ERRMSG_LEN])
{
    ASSERT(path != NULL);
    ASSERT(out != NULL);
    struct conf_parser ps;
    memset(&ps, 0, sizeof ps);
    ps.name = path;
    ps.errmsg = errmsg;
    char *text = NULL;
    int rc = read_file(&ps, path, &text);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = conf_parse_named(text, path, out, errmsg);
    free(text);
    return rc;
}

int conf_member_index(const struct conf *conf, raft_id id)
{
    ASSERT(conf != NULL);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    for (uint32_t i = 0; i < conf->n_members; i++) {
        if (conf->members[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

const struct conf_member *conf_find(const struct conf *conf, raft_id id)
{
    int i = conf_member_index(conf, id);
    return i < 0 ? NULL : &conf->members[i];
}
