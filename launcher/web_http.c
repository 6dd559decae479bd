/*
 * `raftctl web`'s HTTP server (launcher/web_http.h). The request handler
 * checks the token before anything else, refuses a body larger than
 * WEB_BODY_MAX from its Content-Length (or as it arrives), then routes: GET
 * /, /info, /events, /recording; POST /api/ACTION. The page is index.html
 * with its style and script inlined once at start. Read launcher/web/app.js
 * next.
 */
#include "launcher/web_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>
#include <sodium.h>

#include "common/clock.h"
#include "launcher/web_assets.h"

#define SSE_BLOCK 65536
#define SSE_WAIT_MS 1000 /* Then a keep-alive comment. */

struct web_http {
    struct MHD_Daemon *daemon;
    struct web_http_config cfg;
    char *page;
    size_t page_len;
};

/* One request's state across the handler's calls. */
struct http_req {
    size_t body_len;
    bool has_bad_arg;
};

struct http_sse {
    struct web_stream *stream;
    struct web_stream_reader reader;
};

/* --- Responses ------------------------------------------------------------ */

static enum MHD_Result http_send(struct MHD_Connection *conn, unsigned status,
                                 const char *type, const void *body, size_t len,
                                 enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, mode);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'; connect-src 'self'; "
                            "img-src data:; form-action 'none'");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* A short plain-text answer (errors). */
static enum MHD_Result http_text(struct MHD_Connection *conn, unsigned status,
                                 const char *text)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s\n", text);
    return http_send(conn, status, "text/plain; charset=utf-8", buf,
                     (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
                     MHD_RESPMEM_MUST_COPY);
}

/* --- The page --------------------------------------------------------------- */

static const struct web_asset *http_asset(const char *name, size_t len)
{
    for (size_t i = 0; i < web_n_assets; i++) {
        if (strlen(web_assets[i].name) == len &&
            memcmp(web_assets[i].name, name, len) == 0) {
            return &web_assets[i];
        }
    }
    return NULL;
}

/* index.html with each "<!--INLINE name-->" replaced by that file, a .css
 * inside <style>, a .js inside <script>. */
static char *http_build_page(size_t *out_len)
{
    const struct web_asset *index = http_asset("index.html", 10);
    if (index == NULL) {
        return NULL;
    }
    size_t cap = index->len + 64;
    for (size_t i = 0; i < web_n_assets; i++) {
        cap += web_assets[i].len + 32;
    }
    char *page = malloc(cap);
    const char *src = (const char *)index->data;
    const char *end = src + index->len;
    size_t len = 0;
    static const char mark[] = "<!--INLINE ";
    while (page != NULL && src < end) {
        const char *m =
            memmem(src, (size_t)(end - src), mark, sizeof(mark) - 1);
        const char *close =
            m != NULL ? memmem(m, (size_t)(end - m), "-->", 3) : NULL;
        size_t plain = (size_t)((close != NULL ? m : end) - src);
        memcpy(page + len, src, plain);
        len += plain;
        if (close == NULL) {
            break;
        }
        const char *name = m + sizeof(mark) - 1;
        const struct web_asset *a = http_asset(name, (size_t)(close - name));
        bool is_css = a != NULL && strstr(a->name, ".css") != NULL;
        if (a != NULL) {
            len += (size_t)sprintf(page + len,
                                   is_css ? "<style>\n" : "<script>\n");
            memcpy(page + len, a->data, a->len);
            len += a->len;
            len +=
                (size_t)sprintf(page + len, is_css ? "</style>" : "</script>");
        }
        src = close + 3;
    }
    *out_len = len;
    return page;
}

/* --- Arguments -------------------------------------------------------------- */

/* Query arguments other than these make a request malformed. */
static enum MHD_Result http_on_arg(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    (void)kind;
    (void)value;
    struct http_req *r = cls;
    if (strcmp(key, "token") != 0 && strcmp(key, "id") != 0 &&
        strcmp(key, "key") != 0 && strcmp(key, "value") != 0) {
        r->has_bad_arg = true;
    }
    return MHD_YES;
}

static bool http_token_ok(const struct web_http *h, struct MHD_Connection *conn)
{
    const char *t =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    return t != NULL && strlen(t) == WEB_TOKEN_HEX &&
           sodium_memcmp(t, h->cfg.token, WEB_TOKEN_HEX) == 0;
}

/* Content-Length, or 0 when absent or unreadable. */
static unsigned long long http_content_length(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    return cl != NULL ? strtoull(cl, NULL, 10) : 0;
}

/* --- The stream ------------------------------------------------------------- */

static ssize_t http_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct http_sse *s = cls;
    long n = web_stream_read(s->stream, &s->reader, buf, max, SSE_WAIT_MS);
    if (n < 0) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (n == 0) {
        memcpy(buf, ":\n\n", 3); /* Keep-alive; finds closed pages. */
        return 3;
    }
    return (ssize_t)n;
}

static enum MHD_Result http_events(struct web_http *h,
                                   struct MHD_Connection *conn)
{
    struct http_sse *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MHD_NO;
    }
    s->stream = h->cfg.stream;
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, SSE_BLOCK, http_sse_read, s, free);
    if (r == NULL) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* --- Controls --------------------------------------------------------------- */

/* {"ok":..,"code":..,"output":"..."}: the command's exit code and output,
 * the output escaped as a JSON string (bytes >= 0x80 pass as they are). */
static enum MHD_Result http_send_outcome(struct MHD_Connection *conn, int code,
                                         const char *out)
{
    size_t n = strlen(out);
    char *body = malloc(n * 6 + 64);
    if (body == NULL) {
        return MHD_NO;
    }
    size_t len = (size_t)sprintf(body, "{\"ok\":%s,\"code\":%d,\"output\":\"",
                                 code == 0 ? "true" : "false", code);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '"' || c == '\\') {
            len += (size_t)sprintf(body + len, "\\%c", c);
        } else if (c < 0x20) {
            len += (size_t)sprintf(body + len, "\\u%04x", c);
        } else {
            body[len++] = (char)c;
        }
    }
    len += (size_t)sprintf(body + len, "\"}");
    enum MHD_Result rc = http_send(conn, MHD_HTTP_OK, "application/json", body,
                                   len, MHD_RESPMEM_MUST_COPY);
    free(body);
    return rc;
}

/* Reads id, key and value for the action; answers 400 itself (returns
 * false) when they are missing or malformed. */
static bool http_control_args(struct web_http *h, struct MHD_Connection *conn,
                              int act, raft_id *id, char *key, char *value,
                              enum MHD_Result *rc)
{
    const char *id_text =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
    const char *k =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
    const char *v =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "value");
    *id = 0;
    if (web_action_needs_id(act)) {
        char *end = NULL;
        unsigned long long n =
            id_text != NULL && id_text[0] >= '0' && id_text[0] <= '9'
                ? strtoull(id_text, &end, 10)
                : 0;
        if (end == NULL || *end != '\0' || conf_find(h->cfg.conf, n) == NULL) {
            *rc = http_text(conn, MHD_HTTP_BAD_REQUEST,
                            "this control needs id=N, a member of the cluster");
            return false;
        }
        *id = (raft_id)n;
    }
    if (act != WEB_ACT_WRITE) {
        return true;
    }
    if ((k != NULL && (k[0] == '\0' || strlen(k) > WEB_KEY_MAX)) ||
        (v != NULL && strlen(v) > WEB_VALUE_MAX)) {
        *rc = http_text(conn, MHD_HTTP_BAD_REQUEST,
                        "write takes key (1 to 256 bytes) and value (at most "
                        "1024 bytes)");
        return false;
    }
    uint64_t now_us = clock_now_us();
    if (k != NULL) {
        snprintf(key, WEB_KEY_MAX + 1, "%s", k);
    } else {
        snprintf(key, WEB_KEY_MAX + 1, "web-%06u",
                 (unsigned)(now_us % 1000000));
    }
    snprintf(value, WEB_VALUE_MAX + 1, "%s",
             v != NULL ? v : "written from the page");
    return true;
}

static enum MHD_Result
http_control(struct web_http *h, struct MHD_Connection *conn, const char *word)
{
    int act = web_action_parse(word);
    if (act < 0) {
        return http_text(conn, MHD_HTTP_NOT_FOUND, "no such control");
    }
    if (h->cfg.control == NULL) {
        return http_text(conn, MHD_HTTP_CONFLICT,
                         "a recording is being replayed: no controls");
    }
    raft_id id = 0;
    char key[WEB_KEY_MAX + 1] = "", value[WEB_VALUE_MAX + 1] = "";
    enum MHD_Result rc = MHD_NO;
    if (!http_control_args(h, conn, act, &id, key, value, &rc)) {
        return rc;
    }
    int code = 0;
    char out[WEB_CONTROL_OUT_MAX];
    int err = web_control_run(h->cfg.control, act, id, key, value, &code, out,
                              sizeof(out));
    if (err == ERR_BUSY) {
        return http_text(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                         "too many controls running; try again");
    }
    if (err != ERR_OK) {
        return http_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                         "cannot run raftctl");
    }
    return http_send_outcome(conn, code, out);
}

/* --- Routing ---------------------------------------------------------------- */

static enum MHD_Result http_route(struct web_http *h,
                                  struct MHD_Connection *conn, const char *url,
                                  bool is_get, bool is_post)
{
    bool is_api = strncmp(url, "/api/", 5) == 0;
    if (!is_api && !is_get) {
        return http_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
    }
    if (is_api && !is_post) {
        return http_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                         "controls take POST");
    }
    if (is_api) {
        return http_control(h, conn, url + 5);
    }
    if (strcmp(url, "/") == 0) {
        return http_send(conn, MHD_HTTP_OK, "text/html; charset=utf-8", h->page,
                         h->page_len, MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/info") == 0) {
        return http_send(conn, MHD_HTTP_OK, "application/json",
                         h->cfg.info_json, strlen(h->cfg.info_json),
                         MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/events") == 0 && h->cfg.stream != NULL) {
        return http_events(h, conn);
    }
    if (strcmp(url, "/recording") == 0 && h->cfg.recording != NULL) {
        return http_send(conn, MHD_HTTP_OK, "application/x-ndjson",
                         h->cfg.recording, h->cfg.recording_len,
                         MHD_RESPMEM_PERSISTENT);
    }
    return http_text(conn, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn,
                                       const char *url, const char *method,
                                       const char *version,
                                       const char *upload_data,
                                       size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct web_http *h = cls;
    struct http_req *r = *con_cls;
    if (r == NULL) {
        /* Headers only so far: refuse early, before reading any body. */
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        if (!http_token_ok(h, conn)) {
            return http_text(conn, MHD_HTTP_FORBIDDEN,
                             "forbidden: the URL's token is missing or wrong "
                             "(raftctl web prints the URL)");
        }
        if (http_content_length(conn) > WEB_BODY_MAX) {
            return http_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                             "request body too large");
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        r->body_len += *upload_data_size;
        *upload_data_size = 0;
        return r->body_len > WEB_BODY_MAX ? MHD_NO : MHD_YES;
    }
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, http_on_arg, r);
    if (r->has_bad_arg) {
        return http_text(conn, MHD_HTTP_BAD_REQUEST,
                         "unknown query argument (token, id, key, value)");
    }
    if (r->body_len > 0) {
        return http_text(conn, MHD_HTTP_BAD_REQUEST,
                         "requests take their arguments in the query; the "
                         "body must be empty");
    }
    return http_route(h, conn, url, strcmp(method, "GET") == 0,
                      strcmp(method, "POST") == 0);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int web_http_start(struct web_http **out, const struct web_http_config *cfg,
                   char errmsg[ERRMSG_LEN])
{
    struct web_http *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->page = http_build_page(&h->page_len)) == NULL) {
        free(h);
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    h->cfg = *cfg;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(cfg->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
        cfg->port, NULL, NULL, http_on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)WEB_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)WEB_HEADERS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, h, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(errmsg, ERRMSG_LEN,
                 "cannot listen on 127.0.0.1:%u (taken? --port chooses "
                 "another)",
                 (unsigned)cfg->port);
        free(h->page);
        free(h);
        return ERR_BUSY;
    }
    *out = h;
    return ERR_OK;
}

void web_http_stop(struct web_http *h)
{
    if (h == NULL) {
        return;
    }
    MHD_stop_daemon(h->daemon);
    free(h->page);
    free(h);
}
