/*
 * The live cluster as JSON lines of the shared recording format
 * (docs/WEB.md): the meta line, one status line per member from the
 * dashboard's view (launcher/dash_model.h), a fault line per member, and
 * the launcher's events. Pure: no I/O; time arrives as t_ms (milliseconds
 * since the stream began). Read launcher/web_stream.h next.
 */
#ifndef RAFT_LAUNCHER_WEB_JSON_H
#define RAFT_LAUNCHER_WEB_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "launcher/dash_model.h"
#include "launcher/events.h"

#define WEB_JSON_LINE_MAX 8192
#define WEB_FAULT_TEXT_MAX 160

/* Each returns the length written into buf (a NUL-terminated line without
 * newline), or 0 when it did not fit. */

/* {"t":0,"k":"meta","v":1,"source":...,"members":[...],...} */
size_t web_json_meta(const struct conf *conf, const char *source,
                     uint32_t heartbeat_ms, uint32_t election_ms, char *buf,
                     size_t cap);

/* {"t":..,"k":"status","id":..,"up":..,"role":..,...}; a member that does
 * not answer has "up":false, "role":"down" and its last-seen figures. */
size_t web_json_status(const struct dash_node *n, uint64_t t_ms, char *buf,
                       size_t cap);

/* {"t":..,"k":"event","kind":..,"id":..,"text":..,"wall":..} */
size_t web_json_event(const struct ev *e, uint64_t t_ms, char *buf, size_t cap);

/* {"t":..,"k":"fault","id":..,"text":..} */
size_t web_json_fault(raft_id id, const char *text, uint64_t t_ms, char *buf,
                      size_t cap);

/* The rules member n applies: "partitioned from 2,3; loss 10% delay
 * 50+-5ms", or "" when none. */
void web_fault_text(const struct msg_status_reply *st, char *buf, size_t cap);

#endif
