/*
 * The HTTP side of `raftctl web` (libmicrohttpd, one thread per connection,
 * bound to 127.0.0.1 only): the page, the stream of JSON lines as
 * Server-Sent Events, the recording being replayed, and the POST controls.
 * Every request must carry the token (?token=, 32 hex characters) or gets
 * 403 and changes nothing; malformed, oversized or unknown requests get
 * 4xx. docs/WEB.md lists the endpoints. Read launcher/web_control.h next.
 */
#ifndef RAFT_LAUNCHER_WEB_HTTP_H
#define RAFT_LAUNCHER_WEB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "launcher/web_control.h"
#include "launcher/web_stream.h"

#define WEB_TOKEN_HEX 32
#define WEB_BODY_MAX 1024      /* Larger request bodies: 413. */
#define WEB_CONNECTIONS_MAX 32 /* Open connections (pages, requests). */
#define WEB_HEADERS_MAX 16384  /* Per connection: URL and headers. */

struct web_http_config {
    uint16_t port;
    char token[WEB_TOKEN_HEX + 1];
    const char *info_json;       /* GET /info: {"mode":...}. */
    const struct conf *conf;     /* Live: member ids; NULL in replay. */
    struct web_stream *stream;   /* Live; NULL in replay. */
    struct web_control *control; /* Live; NULL in replay. */
    const char *recording;       /* Replay: the file's lines; else NULL. */
    size_t recording_len;
};

struct web_http;

/* Listens on 127.0.0.1:port. cfg's pointers are borrowed until
 * web_http_stop. Errors: ERR_BUSY (the port is taken), ERR_NOMEM. */
int web_http_start(struct web_http **out, const struct web_http_config *cfg,
                   char errmsg[ERRMSG_LEN]);
/* Closes the listener and every connection (call web_stream_close first,
 * so that the event streams end). */
void web_http_stop(struct web_http *h);

#endif
