/* SPDX-License-Identifier: Apache-2.0
 *
 * feed.h - one project's event feed as an SSE source (http/sse.h): what
 * GET /projects/{project_id}/events streams.
 *
 * Where a stream starts:
 *   - with a Last-Event-ID (resume): right after that event. When the ring still covers it,
 *     the ring alone; otherwise the project's events after it are read from project_events
 *     first (at most GF_FEED_CATCHUP_EVENTS and GF_FEED_CATCHUP_BYTES; more than that and the
 *     stream sends one `reset` event instead, whose id is where it continues: the client
 *     reloads its state), then the ring, skipping what the table already gave. Events are
 *     numbered in commit order (migrations/0006_events.sql), so "after N" means the same on
 *     every replica and in the table: no event is lost or sent twice.
 *   - with `recent` = n: the project's n latest events, then live;
 *   - else: live, from the next event.
 * A stream whose reader falls behind the ring ends (its client reconnects with its
 * Last-Event-ID and gets the rest from the table).
 */
#ifndef GF_SERVER_EVENTS_FEED_H
#define GF_SERVER_EVENTS_FEED_H

#include "ring.h"

#include "../http/sse.h"
#include "err.h"

#include <stdint.h>

struct gf_dbconn;
struct gf_feed;

#define GF_FEED_CATCHUP_EVENTS 1000
#define GF_FEED_CATCHUP_BYTES (1024u * 1024u)
#define GF_FEED_RECENT_MAX 1000
#define GF_FEED_KINDS_MAX 16
#define GF_FEED_KIND_CHARS 63

/* A kinds filter: exact kinds, or prefixes written with a trailing `*` ("rollout.*").
 * Plain value struct; n = 0 lets every kind through. */
struct gf_feed_kinds {
    int n;
    char k[GF_FEED_KINDS_MAX][GF_FEED_KIND_CHARS + 1];
};

/* Where and what to stream. Plain value struct. */
struct gf_feed_opts {
    const char *project; /* project id */
    int resume;          /* after holds a Last-Event-ID */
    uint64_t after;
    long recent; /* without resume: start with this many latest events */
    struct gf_feed_kinds kinds;
};

/* Parse a comma-separated kinds filter ("node.online,rollout.*"): up to GF_FEED_KINDS_MAX
 * items of [a-z0-9._-] (an optional `*` last), each up to GF_FEED_KIND_CHARS. NULL or ""
 * lets every kind through. GF_ERR_INVAL. */
enum gf_err gf_feed_parse_kinds(const char *text, struct gf_feed_kinds *out);

/* Open the feed: a ring cursor waking wake(arg), and the catch-up read on db (the
 * request's connection; not kept). Caller owns *out (gf_feed_source.close).
 * GF_ERR_UNAVAILABLE / GF_ERR_DB (database), GF_ERR_NOMEM. */
enum gf_err gf_feed_open(struct gf_ring *ring, struct gf_dbconn *db, const struct gf_feed_opts *o,
                         gf_ring_wake_fn wake, void *arg, struct gf_feed **out);

/* Append the feeds' Prometheus counters (resumes from the ring, from the table, resets). */
enum gf_err gf_feed_metrics(struct gf_buf *out);

/* The SSE source of a feed (state: struct gf_feed *). */
extern const struct gf_sse_source gf_feed_source;

#endif
