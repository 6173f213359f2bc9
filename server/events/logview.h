/* SPDX-License-Identifier: Apache-2.0
 *
 * logview.h - viewers of live log streams on this server process: the SSE source behind
 * GET /log-streams/{stream_id}/events.
 *
 * Chunks live in PostgreSQL (log_chunks, written by whichever replica's ingest took them off
 * the broker), and their commit is announced with NOTIFY gf_log '<stream>:<seq>'. Each
 * process LISTENs on its own connection (events/listen.h) and wakes the viewers of that
 * stream, which read the chunks after the last one they sent: so a viewer on any replica
 * sees the stream, several viewers share one agent stream, and a viewer that reconnects with
 * Last-Event-ID (a chunk's seq) resumes exactly after it. Every 10 s the process marks the
 * streams it has viewers for as watched (log_streams.viewed_at); a stream nobody watched for
 * a minute is stopped by the fleet thread's sweep.
 */
#ifndef GF_SERVER_EVENTS_LOGVIEW_H
#define GF_SERVER_EVENTS_LOGVIEW_H

#include "../http/sse.h"
#include "err.h"

#include <stdint.h>

struct gf_app;
struct gf_logviews;
struct gf_logview;

/* Chunks read per query; the SSE buffer bounds what one call sends. */
#define GF_LOGVIEW_BATCH 64
#define GF_LOGVIEW_TOUCH_S 10

/* Start listening (own connection) and the watched-marker thread. Caller owns *out.
 * GF_ERR_NOMEM, GF_ERR_IO. */
enum gf_err gf_logviews_start(struct gf_app *app, struct gf_logviews **out);

/* Stop (every viewer must be closed: after the HTTP daemon stopped). NULL is a no-op. */
void gf_logviews_stop(struct gf_logviews *v);

/* A viewer of stream (a uuid) starting after chunk seq `after` (0: from the first kept),
 * woken through gf_sse_wake(sse). Caller owns *out (gf_logview_source.close). */
enum gf_err gf_logview_open(struct gf_logviews *v, const char *stream, uint64_t after, void *sse,
                            struct gf_logview **out);

/* The SSE source of a viewer (state: struct gf_logview *). Messages: `id: <seq>`, `event:
 * chunk`, data the chunk's JSON; at the end of an ended stream one `event: end` with
 * {"state", "reason", "last_seq"}, and the response ends. */
extern const struct gf_sse_source gf_logview_source;

#endif
