/* SPDX-License-Identifier: Apache-2.0
 *
 * ring.h - the newest events of a feed, in order, shared by every reader of this process.
 *
 * One writer (the listener thread) pushes events with increasing sequence numbers; many
 * readers (SSE streams on HTTP threads) each hold a cursor, read the events of their key (a
 * project id) past it, and are woken through a callback when new ones of their key arrive.
 * The ring is bounded in events and in bytes: the oldest go first, and a cursor left behind
 * them learns it fell behind instead of silently skipping (its client reconnects and reads
 * the gap from the database).
 *
 * The horizon is the promise the ring makes: every event with a sequence number above it
 * is in the ring or will be pushed (in order). It rises when events are evicted, and the
 * owner raises it when it knows older events will never come (start-up, a gap too large).
 * Thread-safe: one mutex; wake callbacks run under it and must not call back into the ring.
 */
#ifndef GF_SERVER_EVENTS_RING_H
#define GF_SERVER_EVENTS_RING_H

#include "buf.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gf_ring;
struct gf_ring_cursor;

/* "From now on": open a cursor at the head, past every event pushed so far. */
#define GF_RING_NOW UINT64_MAX

/* Longest key (project id) and kind kept; longer kinds are cut. */
#define GF_RING_KEY_MAX 40
#define GF_RING_KIND_MAX 64

/* Called (under the ring's mutex) when events of the cursor's key were pushed. */
typedef void (*gf_ring_wake_fn)(void *arg);

/* Accept one event for a reader (by its kind); 1 = copy it, 0 = skip it. */
typedef int (*gf_ring_filter_fn)(void *arg, const char *kind);

/* Counters for /metrics. Plain value struct. */
struct gf_ring_stats {
    size_t events, bytes, cursors;
    uint64_t horizon, last, pushed, evicted, overruns;
};

/* New ring of at most max_events events and max_bytes message bytes, horizon 0. Caller owns
 * (gf_ring_free). GF_ERR_INVAL (a bound is 0), GF_ERR_NOMEM. */
enum gf_err gf_ring_new(size_t max_events, size_t max_bytes, struct gf_ring **out);

/* Free the ring. Every cursor must have been closed. */
void gf_ring_free(struct gf_ring *g);

/* Append one event: seq above every pushed one and above the horizon, key and kind
 * (NUL-terminated), msg the bytes readers copy (copied here). Evicts the oldest events past
 * the bounds. Wakes nobody (see gf_ring_wake). GF_ERR_EXISTS when seq is not new (the event
 * is dropped: duplicates are expected after a reconnect), GF_ERR_TOOBIG when msg alone
 * exceeds max_bytes, GF_ERR_NOMEM. */
enum gf_err gf_ring_push(struct gf_ring *g, uint64_t seq, const char *key, const char *kind,
                         const char *msg, size_t len);

/* Wake every cursor whose key had events pushed since the last call. */
void gf_ring_wake(struct gf_ring *g);

/* Raise the horizon to seq (no effect when it is lower). Events held stay readable. */
void gf_ring_set_horizon(struct gf_ring *g, uint64_t seq);

/* The highest seq pushed, or the horizon when that is higher. */
uint64_t gf_ring_last(struct gf_ring *g);

/* Open a cursor on key's events with seq > after (GF_RING_NOW: only those pushed from now
 * on); wake(arg) is called when some arrive. *covered = 1 when the ring has, or will get,
 * every event after `after`; 0 when events between after and the horizon are gone (read
 * them from the database first; the cursor then starts at the oldest event held). Caller
 * owns *out (gf_ring_close). GF_ERR_NOMEM. */
enum gf_err gf_ring_open(struct gf_ring *g, const char *key, uint64_t after, gf_ring_wake_fn wake,
                         void *arg, struct gf_ring_cursor **out, int *covered);

/* Copy into out the messages of the cursor's next events with seq > min_seq that filter
 * accepts (filter NULL: all), as many as fit in out's cap, and advance past them (and past
 * the skipped ones). *last receives the seq of the last event copied, or is left alone.
 * GF_OK (possibly nothing copied); GF_ERR_TOOBIG when the cursor fell behind: events of its
 * key above min_seq were evicted before it read them (it stays behind; reopen).
 * GF_ERR_NOMEM. */
enum gf_err gf_ring_read(struct gf_ring_cursor *c, uint64_t min_seq, gf_ring_filter_fn filter,
                         void *arg, struct gf_buf *out, uint64_t *last);

/* Move the cursor to the head (nothing pushed so far is read). Returns gf_ring_last(). */
uint64_t gf_ring_skip(struct gf_ring_cursor *c);

/* Close a cursor: no wake for it runs after this returns. NULL is a no-op. */
void gf_ring_close(struct gf_ring_cursor *c);

void gf_ring_stats(struct gf_ring *g, struct gf_ring_stats *out);

#endif
