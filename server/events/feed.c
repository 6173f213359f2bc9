/* SPDX-License-Identifier: Apache-2.0
 *
 * feed.c - a project's event feed as an SSE source (see feed.h). The catch-up from the
 * table happens once, in the handler, on the request's connection; afterwards the stream
 * reads only the ring, so it holds no database connection however long it lasts.
 */
#include "feed.h"

#include "bus.h"

#include "../store/db.h"
#include "../store/q_events.h"
#include "alloc.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gf_feed {
    struct gf_ring_cursor *cur;
    struct gf_feed_kinds kinds;
    struct gf_buf backlog; /* catch-up messages, sent before the ring */
    size_t off;
    uint64_t last; /* seq of the last event sent or skipped: the ring skips up to it */
};

static atomic_ullong resumed_ring, resumed_table, resets;

static int kind_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
}

enum gf_err gf_feed_parse_kinds(const char *text, struct gf_feed_kinds *out)
{
    memset(out, 0, sizeof(*out));
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > GF_FEED_KIND_CHARS || out->n == GF_FEED_KINDS_MAX) {
            return GF_ERR_INVAL;
        }
        for (size_t i = 0; i < n; i++) {
            if (!kind_char(p[i]) && !(p[i] == '*' && i == n - 1)) {
                return GF_ERR_INVAL;
            }
        }
        memcpy(out->k[out->n], p, n);
        out->k[out->n++][n] = '\0';
        p = end ? end + 1 : p + n;
        if (end != NULL && *p == '\0') {
            return GF_ERR_INVAL; /* trailing comma */
        }
    }
    return GF_OK;
}

static int accept_kind(void *arg, const char *kind)
{
    const struct gf_feed_kinds *ks = arg;

    if (ks->n == 0) {
        return 1;
    }
    for (int i = 0; i < ks->n; i++) {
        size_t n = strlen(ks->k[i]);
        if (n > 0 && ks->k[i][n - 1] == '*' ? strncmp(kind, ks->k[i], n - 1) == 0
                                            : strcmp(kind, ks->k[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The point to start after: the Last-Event-ID, just before the n latest events, or now. */
static enum gf_err start_after(struct gf_dbconn *db, const struct gf_feed_opts *o, uint64_t *after)
{
    char n[24];
    PGresult *r = NULL;
    enum gf_err err;

    if (o->resume) {
        *after = o->after;
        return GF_OK;
    }
    if (o->recent <= 0) {
        *after = GF_RING_NOW;
        return GF_OK;
    }
    snprintf(n, sizeof(n), "%ld", o->recent);
    const char *p[2] = {o->project, n};
    if ((err = gf_db_exec(db, &gf_q_event_project_recent, p, &r)) == GF_OK) {
        *after = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    return err;
}

/* Too much to catch up: one `reset`, then live from the ring's head. */
static enum gf_err reset(struct gf_feed *f, uint64_t after)
{
    char id[24], data[96];

    atomic_fetch_add(&resets, 1);
    f->backlog.len = 0;
    f->last = gf_ring_skip(f->cur);
    snprintf(id, sizeof(id), "%" PRIu64, f->last);
    snprintf(data, sizeof(data), "{\"reason\":\"too many events missed\",\"after\":%" PRIu64 "}",
             after);
    return gf_sse_message(&f->backlog, id, "reset", data);
}

/* The project's events after `after` from the table, into the backlog. */
static enum gf_err catch_up(struct gf_feed *f, struct gf_dbconn *db, const char *project,
                            uint64_t after)
{
    char a[24], limit[16];
    PGresult *r = NULL;
    enum gf_err err;

    snprintf(a, sizeof(a), "%" PRIu64, after);
    snprintf(limit, sizeof(limit), "%d", GF_FEED_CATCHUP_EVENTS + 1);
    const char *p[3] = {project, a, limit};
    if ((err = gf_db_exec(db, &gf_q_event_project_after, p, &r)) != GF_OK) {
        return err;
    }
    int n = PQntuples(r);
    for (int i = 0; i < n && n <= GF_FEED_CATCHUP_EVENTS && err == GF_OK; i++) {
        char pid[GF_RING_KEY_MAX], kind[GF_RING_KIND_MAX];
        uint64_t seq = 0;
        size_t was = f->backlog.len;
        err = gf_event_message(PQgetvalue(r, i, 3), &f->backlog, &seq, pid, sizeof(pid), kind,
                               sizeof(kind));
        if (err == GF_OK) {
            f->last = seq;
            if (!accept_kind(&f->kinds, kind)) {
                f->backlog.len = was;
            }
        } else if (err == GF_ERR_PARSE) {
            err = GF_OK; /* not an event the feed can show: skipped */
        }
    }
    PQclear(r);
    if (n > GF_FEED_CATCHUP_EVENTS || err == GF_ERR_TOOBIG) {
        return reset(f, after);
    }
    return err;
}

/* A Last-Event-ID above every event the ring has seen: another replica may simply be ahead
 * of this one's listener (the event is on its way), or the id is not from this database (a
 * restore, a forged id): then nothing would ever come after it; a reset instead. */
static enum gf_err future_id(struct gf_feed *f, struct gf_dbconn *db, uint64_t after)
{
    PGresult *r = NULL;
    enum gf_err err = gf_db_exec(db, &gf_q_event_max, NULL, &r);

    if (err == GF_OK && after > strtoull(PQgetvalue(r, 0, 0), NULL, 10)) {
        err = reset(f, after);
    }
    PQclear(r);
    return err;
}

enum gf_err gf_feed_open(struct gf_ring *ring, struct gf_dbconn *db, const struct gf_feed_opts *o,
                         gf_ring_wake_fn wake, void *arg, struct gf_feed **out)
{
    struct gf_feed *f = gf_calloc(1, sizeof(*f));
    uint64_t after = 0;
    int covered = 1;
    enum gf_err err;

    if (f == NULL) {
        return GF_ERR_NOMEM;
    }
    f->kinds = o->kinds;
    gf_buf_init(&f->backlog, GF_FEED_CATCHUP_BYTES);
    if ((err = start_after(db, o, &after)) != GF_OK ||
        (err = gf_ring_open(ring, o->project, after, wake, arg, &f->cur, &covered)) != GF_OK) {
        goto fail;
    }
    f->last = after == GF_RING_NOW ? 0 : after;
    if (!covered && (err = catch_up(f, db, o->project, after)) != GF_OK) {
        goto fail;
    }
    if (covered && o->resume && after > gf_ring_last(ring) &&
        (err = future_id(f, db, after)) != GF_OK) {
        goto fail;
    }
    if (o->resume) {
        atomic_fetch_add(covered ? &resumed_ring : &resumed_table, 1);
    }
    *out = f;
    return GF_OK;
fail:
    gf_ring_close(f->cur);
    gf_buf_free(&f->backlog);
    gf_free(f);
    return err;
}

static enum gf_err feed_next(void *state, struct gf_buf *out)
{
    struct gf_feed *f = state;

    if (f->off < f->backlog.len) {
        size_t n = f->backlog.len - f->off, room = out->cap - out->len;
        if (n > room) {
            n = room;
        }
        enum gf_err err = gf_buf_append(out, f->backlog.data + f->off, n);
        f->off += n;
        if (f->off == f->backlog.len) {
            gf_buf_free(&f->backlog);
            f->off = 0;
        }
        return err;
    }
    enum gf_err err = gf_ring_read(f->cur, f->last, accept_kind, &f->kinds, out, &f->last);
    if (err == GF_ERR_TOOBIG) {
        /* Fell behind: end here; the client resumes from its Last-Event-ID. */
        gf_buf_puts(out, ": fell behind; reconnect with Last-Event-ID\n\n");
    }
    return err;
}

static void feed_close(void *state)
{
    struct gf_feed *f = state;

    gf_ring_close(f->cur);
    gf_buf_free(&f->backlog);
    gf_free(f);
}

enum gf_err gf_feed_metrics(struct gf_buf *out)
{
    return gf_buf_printf(
        out,
        "# HELP gf_events_resumed_total Streams resumed after a Last-Event-ID, by where the "
        "missed events came from.\n"
        "# TYPE gf_events_resumed_total counter\n"
        "gf_events_resumed_total{from=\"ring\"} %llu\n"
        "gf_events_resumed_total{from=\"table\"} %llu\n"
        "# HELP gf_events_resets_total Streams that missed too much to resume (a reset).\n"
        "# TYPE gf_events_resets_total counter\ngf_events_resets_total %llu\n",
        atomic_load(&resumed_ring), atomic_load(&resumed_table), atomic_load(&resets));
}

const struct gf_sse_source gf_feed_source = {"project events", feed_next, feed_close};
