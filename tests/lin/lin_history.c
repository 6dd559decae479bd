/*
 * Parsing and interning for tests/lin/lin_history.h. The parser walks the
 * text line by line, splits at most LIN_LINE_TOKENS tokens, validates each
 * against the operation's shape and rejects anything else with the line
 * number; it never reads past the NUL and grows its arrays geometrically up
 * to LIN_OPS_MAX. Read tests/lin/lin.c next.
 */
#include "tests/lin/lin_history.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"

#define LIN_LINE_TOKENS 9
#define LIN_STRINGS_MAX (1u << 26)

/* FNV-1a over a NUL-terminated string. */
static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static void strings_free(struct lin_strings *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        free(t->text[i]);
    }
    free(t->text);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Rebuilds the hash index with n_slots slots. Errors: ERR_NOMEM. */
static int strings_rehash(struct lin_strings *t, uint32_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = (uint32_t)str_hash(t->text[id]) & (n_slots - 1);
        while (slots[i] != 0) {
            i = (i + 1) & (n_slots - 1);
        }
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return ERR_OK;
}

/* The id of s, adding it when new. Errors: ERR_NOMEM, ERR_TOO_BIG. */
static int strings_intern(struct lin_strings *t, const char *s, uint32_t *id)
{
    if (t->n_slots == 0 || (t->n + 1) * 2 > t->n_slots) {
        if (t->n >= LIN_STRINGS_MAX) {
            return ERR_TOO_BIG;
        }
        int rv = strings_rehash(t, t->n_slots == 0 ? 64 : t->n_slots * 2);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    uint32_t i = (uint32_t)str_hash(s) & (t->n_slots - 1);
    while (t->slots[i] != 0) {
        if (strcmp(t->text[t->slots[i] - 1], s) == 0) {
            *id = t->slots[i] - 1;
            return ERR_OK;
        }
        i = (i + 1) & (t->n_slots - 1);
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap == 0 ? 64 : t->cap * 2;
        char **text = realloc(t->text, cap * sizeof *text);
        if (text == NULL) {
            return ERR_NOMEM;
        }
        t->text = text;
        t->cap = cap;
    }
    char *copy = strdup(s);
    if (copy == NULL) {
        return ERR_NOMEM;
    }
    t->text[t->n] = copy;
    t->slots[i] = t->n + 1;
    *id = t->n++;
    return ERR_OK;
}

void lin_history_init(struct lin_history *h)
{
    ASSERT(h != NULL);
    memset(h, 0, sizeof *h);
}

void lin_history_free(struct lin_history *h)
{
    if (h == NULL) {
        return;
    }
    free(h->recs);
    strings_free(&h->keys);
    strings_free(&h->values);
    memset(h, 0, sizeof *h);
}

const char *lin_history_key(const struct lin_history *h, uint32_t key)
{
    return key < h->keys.n ? h->keys.text[key] : "?";
}

const char *lin_history_value(const struct lin_history *h, uint32_t value)
{
    if (value == LIN_VALUE_UNOBSERVED) {
        return "(a value no operation reads)";
    }
    return value < h->values.n ? h->values.text[value] : "?";
}

/* Interns a value; the first id is always the absent marker. */
static int intern_value(struct lin_history *h, const char *s, uint32_t *id)
{
    if (h->values.n == 0) {
        uint32_t absent = 0;
        int rv = strings_intern(&h->values, "-", &absent);
        if (rv != ERR_OK) {
            return rv;
        }
        ASSERT(absent == LIN_VALUE_ABSENT);
    }
    if (s == NULL) {
        *id = LIN_VALUE_ABSENT;
        return ERR_OK;
    }
    return strings_intern(&h->values, s, id);
}

/* Checks the op/outcome/argument combination. */
static bool shape_ok(int op, int outcome, const char *value,
                     const char *expected, const char *result)
{
    switch (op) {
    case LIN_PUT:
        return value != NULL && expected == NULL && result == NULL &&
               (outcome == LIN_OK || outcome == LIN_UNKNOWN);
    case LIN_DEL:
        return value == NULL && expected == NULL && result == NULL &&
               (outcome == LIN_OK || outcome == LIN_UNKNOWN);
    case LIN_CAS:
        return value != NULL && expected != NULL && result == NULL &&
               outcome != LIN_ABSENT;
    case LIN_GET:
        return value == NULL && expected == NULL &&
               ((outcome == LIN_OK) == (result != NULL)) && outcome != LIN_FAIL;
    default:
        return false;
    }
}

/* "-" stands for "no value" in reports: refused as a value. */
static bool is_dash(const char *s)
{
    return s != NULL && strcmp(s, "-") == 0;
}

/* lin_history_add with the source line recorded. */
static int add_rec(struct lin_history *h, uint32_t lineno, uint32_t proc,
                   uint64_t call_us, uint64_t ret_us, int op, int outcome,
                   const char *key, const char *value, const char *expected,
                   const char *result)
{
    if (key == NULL || !shape_ok(op, outcome, value, expected, result) ||
        is_dash(value) || is_dash(expected) || is_dash(result) ||
        (outcome == LIN_UNKNOWN) != (ret_us == LIN_TIME_UNKNOWN) ||
        ret_us < call_us) {
        return ERR_INVALID;
    }
    if (op == LIN_GET && outcome == LIN_UNKNOWN) {
        h->n_dropped_gets++;
        return ERR_OK;
    }
    if (h->n_recs >= LIN_OPS_MAX) {
        return ERR_TOO_BIG;
    }
    if (h->n_recs == h->cap_recs) {
        uint32_t cap = h->cap_recs == 0 ? 256 : h->cap_recs * 2;
        struct lin_rec *recs = realloc(h->recs, cap * sizeof *recs);
        if (recs == NULL) {
            return ERR_NOMEM;
        }
        h->recs = recs;
        h->cap_recs = cap;
    }
    struct lin_rec r;
    memset(&r, 0, sizeof r);
    r.call_us = call_us;
    r.ret_us = ret_us;
    r.proc = proc;
    r.line = lineno;
    r.op = (uint8_t)op;
    r.outcome = (uint8_t)outcome;
    int rv = strings_intern(&h->keys, key, &r.key);
    if (rv == ERR_OK) {
        rv = intern_value(h, value, &r.value);
    }
    if (rv == ERR_OK) {
        rv = intern_value(h, expected, &r.expected);
    }
    if (rv == ERR_OK) {
        rv = intern_value(h, result, &r.result);
    }
    if (rv != ERR_OK) {
        return rv;
    }
    h->recs[h->n_recs++] = r;
    return ERR_OK;
}

int lin_history_add(struct lin_history *h, uint32_t proc, uint64_t call_us,
                    uint64_t ret_us, int op, int outcome, const char *key,
                    const char *value, const char *expected, const char *result)
{
    ASSERT(h != NULL);
    return add_rec(h, 0, proc, call_us, ret_us, op, outcome, key, value,
                   expected, result);
}

/* A decimal u64 token. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

static int parse_op(const char *s)
{
    static const char *const names[] = {NULL, "put", "get", "del", "cas"};
    for (int i = LIN_PUT; i <= LIN_CAS; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return 0;
}

static int parse_outcome(const char *s)
{
    if (strcmp(s, "ok") == 0) {
        return LIN_OK;
    }
    if (strcmp(s, "absent") == 0) {
        return LIN_ABSENT;
    }
    if (strcmp(s, "fail") == 0) {
        return LIN_FAIL;
    }
    if (strcmp(s, "unknown") == 0) {
        return LIN_UNKNOWN;
    }
    return -1;
}

/* Splits line (modified in place) into at most LIN_LINE_TOKENS tokens.
 * Returns the count, or -1 when there are more or one is too long or holds
 * a control byte. */
static int split(char *line, char **tok)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            return n; /* A token starting with '#' begins a comment. */
        }
        if (n == LIN_LINE_TOKENS) {
            return -1;
        }
        tok[n] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r') {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
                return -1;
            }
            p++;
        }
        if (p - tok[n] > LIN_TOKEN_MAX) {
            return -1;
        }
        n++;
        if (*p != '\0') {
            *p++ = '\0';
        }
    }
}

/* Parses one non-comment line's tokens into an operation. */
static int parse_tokens(struct lin_history *h, char **tok, int n,
                        char errmsg[ERRMSG_LEN], uint32_t lineno)
{
    uint64_t proc = 0, call = 0, ret = LIN_TIME_UNKNOWN;
    int op = n >= 5 ? parse_op(tok[3]) : 0;
    /* The argument count follows from the op. */
    int n_args = op == LIN_PUT ? 1 : op == LIN_CAS ? 2 : 0;
    int oi = 5 + n_args; /* Index of the outcome token. */
    if (op == 0 || n < oi + 1 || !parse_u64(tok[0], &proc) ||
        proc > UINT32_MAX || !parse_u64(tok[1], &call) ||
        (strcmp(tok[2], "-") != 0 && !parse_u64(tok[2], &ret))) {
        snprintf(errmsg, ERRMSG_LEN,
                 "line %u: expected PROC CALL_US RET_US OP KEY ... OUTCOME",
                 lineno);
        return ERR_MALFORMED;
    }
    int outcome = parse_outcome(tok[oi]);
    const char *result = NULL;
    if (op == LIN_GET && outcome == LIN_OK && n == oi + 2) {
        result = tok[oi + 1];
    } else if (n != oi + 1) {
        outcome = -1;
    }
    int rv = outcome < 0
                 ? ERR_INVALID
                 : add_rec(h, lineno, (uint32_t)proc, call, ret, op, outcome,
                           tok[4], n_args >= 1 ? tok[5 + n_args - 1] : NULL,
                           n_args == 2 ? tok[5] : NULL, result);
    if (rv == ERR_INVALID) {
        snprintf(errmsg, ERRMSG_LEN,
                 "line %u: bad outcome, arguments or times for '%s'", lineno,
                 tok[3]);
        return ERR_MALFORMED;
    }
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "line %u: %s", lineno, err_str(rv));
        return rv;
    }
    return ERR_OK;
}

int lin_history_parse(struct lin_history *h, const char *text,
                      char errmsg[ERRMSG_LEN])
{
    ASSERT(h != NULL);
    ASSERT(text != NULL);
    char line[LIN_LINE_TOKENS * (LIN_TOKEN_MAX + 1) + 64];
    uint32_t lineno = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len >= sizeof line) {
            snprintf(errmsg, ERRMSG_LEN, "line %u: too long", lineno);
            return ERR_MALFORMED;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl != NULL);
        char *tok[LIN_LINE_TOKENS];
        int n = split(line, tok);
        if (n < 0) {
            snprintf(errmsg, ERRMSG_LEN,
                     "line %u: too many tokens, a token over %d bytes, or a "
                     "control byte",
                     lineno, LIN_TOKEN_MAX);
            return ERR_MALFORMED;
        }
        if (n == 0) {
            continue;
        }
        int rv = parse_tokens(h, tok, n, errmsg, lineno);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    return ERR_OK;
}

int lin_history_load(struct lin_history *h, const char *path,
                     char errmsg[ERRMSG_LEN])
{
    ASSERT(path != NULL);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    int rv = ERR_OK;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text != NULL) {
        if (len + 1 == cap) {
            char *grown = cap >= LIN_TEXT_MAX ? NULL : realloc(text, cap * 2);
            if (grown == NULL) {
                rv = cap >= LIN_TEXT_MAX ? ERR_TOO_BIG : ERR_NOMEM;
                break;
            }
            text = grown;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) {
            rv = ferror(f) ? ERR_IO : ERR_OK;
            break;
        }
    }
    fclose(f);
    if (text == NULL) {
        rv = ERR_NOMEM;
    }
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%s: %s", path, err_str(rv));
        free(text);
        return rv;
    }
    text[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        free(text);
        snprintf(errmsg, ERRMSG_LEN, "%s: holds a NUL byte", path);
        return ERR_MALFORMED;
    }
    char inner[ERRMSG_LEN] = "";
    rv = lin_history_parse(h, text, inner);
    free(text);
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.100s:%.140s", path, inner + 5);
    }
    return rv;
}

void lin_history_format(const struct lin_history *h, const struct lin_rec *r,
                        char *buf, size_t cap)
{
    static const char *const ops[] = {"?", "put", "get", "del", "cas"};
    static const char *const outs[] = {"ok", "absent", "fail", "unknown"};
    char ret[24] = "-";
    if (r->ret_us != LIN_TIME_UNKNOWN) {
        snprintf(ret, sizeof ret, "%llu", (unsigned long long)r->ret_us);
    }
    const char *op = r->op <= LIN_CAS ? ops[r->op] : "?";
    const char *out = r->outcome <= LIN_UNKNOWN ? outs[r->outcome] : "?";
    const char *key = lin_history_key(h, r->key);
    int used = snprintf(buf, cap, "%u %llu %s %s %s", r->proc,
                        (unsigned long long)r->call_us, ret, op, key);
    if (used < 0 || (size_t)used >= cap) {
        return;
    }
    if (r->op == LIN_CAS) {
        snprintf(buf + used, cap - (size_t)used, " %s %s %s",
                 lin_history_value(h, r->expected),
                 lin_history_value(h, r->value), out);
    } else if (r->op == LIN_PUT) {
        snprintf(buf + used, cap - (size_t)used, " %s %s",
                 lin_history_value(h, r->value), out);
    } else if (r->op == LIN_GET && r->outcome == LIN_OK) {
        snprintf(buf + used, cap - (size_t)used, " ok %s",
                 lin_history_value(h, r->result));
    } else {
        snprintf(buf + used, cap - (size_t)used, " %s", out);
    }
}
