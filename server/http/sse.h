/* SPDX-License-Identifier: Apache-2.0
 *
 * sse.h - Server-Sent Events responses (text/event-stream) over libmicrohttpd, for any
 * source of messages: the project event feed (events/feed.h), log streams.
 *
 * A handler claims a stream slot (gf_sse_open: the per-process limit sse_max_clients, 503
 * with Retry-After beyond it), prepares its source with gf_sse_wake as the source's wake-up
 * and hands both over (gf_sse_start). The response is a chunked body produced on demand:
 * whenever the client can take more, the source's next() appends complete messages to a
 * bounded buffer (sse_client_buffer); when it has nothing, the connection is suspended
 * (no thread, no polling) until gf_sse_wake() from any thread, a heartbeat comment
 * (`: keepalive`, every sse_heartbeat seconds, so proxies and idle timeouts keep the stream)
 * or the end of the stream. A client that takes nothing for sse_stall_timeout seconds while
 * data waits is disconnected (its buffer is all it ever holds); every stream ends after
 * sse_max_duration so credentials are checked again (EventSource reconnects by itself, with
 * Last-Event-ID). The stream opens with `retry:` and a comment.
 *
 * Threads: next() runs on the connection's HTTP thread, never twice at once; close() once,
 * on whichever thread ends the stream; gf_sse_wake() is thread-safe and cheap.
 */
#ifndef GF_SERVER_HTTP_SSE_H
#define GF_SERVER_HTTP_SSE_H

#include "buf.h"
#include "err.h"
#include "req.h"

#include <stddef.h>
#include <stdint.h>

struct gf_app;
struct gf_sse;
struct gf_sse_hub;

/* Reconnection delay the stream asks of EventSource clients (`retry:`), milliseconds. */
#define GF_SSE_RETRY_MS 3000
/* Largest chunk handed to libmicrohttpd at once. */
#define GF_SSE_BLOCK_BYTES (16u * 1024u)
/* Connections accepted besides the event streams (MHD's limit is sse_max_clients + this). */
#define GF_SSE_OTHER_CONNECTIONS 1024u

/* A source of messages for one stream. Plain value struct, usually static const. */
struct gf_sse_source {
    const char *name; /* for logs */
    /* Append complete messages to out (its cap is the room; a message that does not fit
     * waits for the next call). GF_OK with nothing appended: nothing now (the stream sleeps
     * until gf_sse_wake). Any error ends the stream after what was appended is sent. */
    enum gf_err (*next)(void *state, struct gf_buf *out);
    /* Release state (stop waking the stream first). */
    void (*close)(void *state);
};

/* The process's streams: registry, limit, heartbeat thread. Sizes the file descriptor
 * budget: raises RLIMIT_NOFILE's soft limit towards the hard one when
 * sse_max_clients + GF_SSE_OTHER_CONNECTIONS + the pool need more, else lowers the stream
 * limit to what fits (logged). *conn_limit receives libmicrohttpd's connection limit.
 * Caller owns *out (gf_sse_hub_free). GF_ERR_NOMEM, GF_ERR_IO. */
enum gf_err gf_sse_hub_new(struct gf_app *app, unsigned *conn_limit, struct gf_sse_hub **out);

/* End every stream (their clients get the end of the body) and refuse new ones: before the
 * HTTP daemon stops. */
void gf_sse_hub_shutdown(struct gf_sse_hub *hub);

/* Free (after the daemon stopped). NULL is a no-op. */
void gf_sse_hub_free(struct gf_sse_hub *hub);

/* Append the streams' Prometheus metrics. NULL appends nothing. */
enum gf_err gf_sse_hub_metrics(struct gf_sse_hub *hub, struct gf_buf *out);

/* A decimal event id, 1 to 19 digits: 0 with *out, -1 when text is not one. */
int gf_sse_parse_id(const char *text, uint64_t *out);

/* Where the request resumes: the Last-Event-ID header (what EventSource sends), else the
 * last_event_id query parameter; *present (unless NULL) 0 and *after 0 when neither is
 * given. A bad one fails the request with 400 naming it ("the last event id must be
 * <what>"). */
enum gf_err gf_sse_last_event_id(struct gf_req *r, const char *what, uint64_t *after,
                                 int *present);

/* Claim a stream for this request. GF_ERR_UNAVAILABLE (recorded, with Retry-After) when the
 * process serves sse_max_clients streams or is stopping. *out is owned by the request until
 * gf_sse_start (freed with the request if the handler fails). */
enum gf_err gf_sse_open(struct gf_req *r, struct gf_sse **out);

/* Wake the stream: the source has something (or may have). Thread-safe, any thread. */
void gf_sse_wake(void *sse);

/* Answer the request with the stream: 200 text/event-stream from src. Takes ownership of
 * state (src->close runs also on failure). The request's database connection goes back to
 * the pool now. GF_ERR_NOMEM. */
enum gf_err gf_sse_start(struct gf_req *r, struct gf_sse *s, const struct gf_sse_source *src,
                         void *state);

/* Append one message: optional id, optional event, data (one line, no CR/LF). GF_ERR_INVAL
 * (a field with a line break), GF_ERR_TOOBIG, GF_ERR_NOMEM. */
enum gf_err gf_sse_message(struct gf_buf *out, const char *id, const char *event, const char *data);

#endif
