/* SPDX-License-Identifier: Apache-2.0
 *
 * bus.c - NOTIFY gf_event into the event ring (see bus.h). The gf_event handler and the
 * catch-up after a (re)connect run on the listener thread, on its connection; only start-up
 * uses the pool.
 */
#define GF_LOG_MODULE "events"
#include "bus.h"

#include "feed.h"
#include "listen.h"
#include "ring.h"

#include "../core/app.h"
#include "../store/db.h"
#include "../store/q_events.h"
#include "alloc.h"
#include "ids.h"
#include "json.h"
#include "log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATCHUP_PAGE 1000

struct gf_event_bus {
    struct gf_app *app;
    struct gf_ring *ring;
    struct gf_listener *listener;
    int resync; /* listener thread: the ring may miss events; read the table before more */
    atomic_ullong big, caught_up, bad;
};

static void clean_kind(char *dst, size_t cap, const char *src)
{
    size_t n = 0;

    for (; src[n] != '\0' && n + 1 < cap; n++) {
        char ch = src[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-';
        dst[n] = ok ? ch : '_';
    }
    dst[n] = '\0';
}

/* The event's JSON as sent: compact, or with its data replaced when too large. */
static char *event_text(json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (text != NULL && strlen(text) > GF_EVENT_MESSAGE_MAX - 256) {
        free(text);
        json_object_set_new(ev, "data", json_pack("{s:b}", "truncated", 1));
        text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    return text;
}

enum gf_err gf_event_message(const char *json, struct gf_buf *msg, uint64_t *seq, char *project,
                             size_t pcap, char *kind, size_t kcap)
{
    json_t *ev = json_loads(json, 0, NULL);
    const json_t *id = json_object_get(ev, "id");
    const char *p = json_string_value(json_object_get(ev, "project_id"));
    const char *k = json_string_value(json_object_get(ev, "kind"));
    char *text = NULL;
    enum gf_err err = GF_ERR_PARSE;

    if (!json_is_integer(id) || json_integer_value(id) <= 0 || p == NULL || !gf_uuid_valid(p) ||
        k == NULL) {
        goto out;
    }
    *seq = (uint64_t)json_integer_value(id);
    snprintf(project, pcap, "%s", p);
    clean_kind(kind, kcap, k);
    if ((text = event_text(ev)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    err = gf_buf_printf(msg, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", *seq, kind, text);
out:
    free(text);
    json_decref(ev);
    return err;
}

/* One event from its JSON into the ring. */
static void push_json(struct gf_event_bus *b, const char *json)
{
    struct gf_buf msg;
    char project[GF_RING_KEY_MAX], kind[GF_RING_KIND_MAX];
    uint64_t seq = 0;

    gf_buf_init(&msg, GF_EVENT_MESSAGE_MAX);
    enum gf_err err =
        gf_event_message(json, &msg, &seq, project, sizeof(project), kind, sizeof(kind));
    if (err == GF_OK) {
        err = gf_ring_push(b->ring, seq, project, kind, msg.data, msg.len);
    }
    if (err != GF_OK && err != GF_ERR_EXISTS) {
        atomic_fetch_add(&b->bad, 1);
        gf_log_warn("event dropped", "seq=%" PRIu64 " error=\"%s\"", seq, gf_err_str(err));
    }
    gf_buf_free(&msg);
}

static PGresult *run(PGconn *c, const struct gf_stmt *st, const char *const *params)
{
    PGresult *r = PQexecParams(c, st->sql, st->nparams, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        gf_log_warn("event query failed", "stmt=%s error=\"%.200s\"", st->name, PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Every event above the last one held, in pages, from the table. 0 when done; on failure
 * resync stays set and the next notification or tick tries again (nothing is pushed
 * meanwhile, so the ring never holds a later event before an earlier one). */
static int catch_up(struct gf_event_bus *b, PGconn *c)
{
    char after[24], limit[16];
    int n;

    snprintf(limit, sizeof(limit), "%d", CATCHUP_PAGE);
    do {
        snprintf(after, sizeof(after), "%" PRIu64, gf_ring_last(b->ring));
        const char *p[2] = {after, limit};
        PGresult *r = run(c, &gf_q_event_after, p);
        if (r == NULL) {
            b->resync = 1;
            return -1;
        }
        n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            push_json(b, PQgetvalue(r, i, 3));
        }
        PQclear(r);
        atomic_fetch_add(&b->caught_up, (unsigned long long)n);
        gf_ring_wake(b->ring);
    } while (n == CATCHUP_PAGE);
    b->resync = 0;
    return 0;
}

static void on_notify(void *arg, PGconn *c, const char *payload)
{
    struct gf_event_bus *b = arg;
    json_t *stub = NULL;

    if (b->resync && catch_up(b, c) != 0) {
        return; /* this one comes with the catch-up */
    }
    stub = json_loads(payload, 0, NULL);
    if (json_is_true(json_object_get(stub, "big"))) {
        char seq[24];
        snprintf(seq, sizeof(seq), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(stub, "id")));
        const char *p[1] = {seq};
        PGresult *r = run(c, &gf_q_event_get, p);
        if (r != NULL && PQntuples(r) == 1) {
            atomic_fetch_add(&b->big, 1);
            push_json(b, PQgetvalue(r, 0, 3));
        } else {
            b->resync = 1; /* not read: nothing after it may go in first */
        }
        PQclear(r);
    } else {
        push_json(b, payload);
    }
    json_decref(stub);
    gf_ring_wake(b->ring);
}

/* (Re)connected: read what was committed while nobody listened. */
static void on_connected(void *arg, PGconn *c)
{
    catch_up(arg, c);
}

static void on_tick(void *arg, PGconn *c)
{
    struct gf_event_bus *b = arg;

    if (b->resync) {
        catch_up(b, c);
    }
}

static enum gf_err read_horizon(struct gf_app *app, uint64_t *out)
{
    struct gf_dbconn *db = NULL;
    PGresult *r = NULL;
    enum gf_err err = gf_db_acquire(app->db, &db);

    if (err == GF_OK && (err = gf_db_exec(db, &gf_q_event_max, NULL, &r)) == GF_OK) {
        *out = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    if (db != NULL) {
        gf_db_release(app->db, db);
    }
    return err;
}

enum gf_err gf_event_bus_start(struct gf_app *app, struct gf_event_bus **out)
{
    struct gf_event_bus *b = gf_calloc(1, sizeof(*b));
    uint64_t horizon = 0;
    enum gf_err err;

    if (b == NULL) {
        return GF_ERR_NOMEM;
    }
    b->app = app;
    const struct gf_listen_handler h = {"gf_event", on_notify, on_connected, b};
    if ((err = read_horizon(app, &horizon)) != GF_OK ||
        (err = gf_ring_new((size_t)app->cfg.events_ring, (size_t)app->cfg.events_ring_bytes,
                           &b->ring)) != GF_OK ||
        (err = gf_listener_new(gf_db_conninfo(app->db), &b->listener)) != GF_OK ||
        (err = gf_listener_add(b->listener, &h)) != GF_OK ||
        (err = gf_listener_add_tick(b->listener, on_tick, b)) != GF_OK) {
        goto fail;
    }
    gf_ring_set_horizon(b->ring, horizon);
    if ((err = gf_listener_start(b->listener)) != GF_OK) {
        goto fail;
    }
    gf_log_info("event bus started", "horizon=%" PRIu64 " ring=%ld ring_bytes=%ld", horizon,
                app->cfg.events_ring, app->cfg.events_ring_bytes);
    *out = b;
    return GF_OK;
fail:
    gf_listener_stop(b->listener);
    gf_ring_free(b->ring);
    gf_free(b);
    return err;
}

void gf_event_bus_stop(struct gf_event_bus *b)
{
    if (b == NULL) {
        return;
    }
    gf_listener_stop(b->listener);
    gf_ring_free(b->ring);
    gf_free(b);
}

struct gf_ring *gf_event_bus_ring(struct gf_event_bus *b)
{
    return b->ring;
}

enum gf_err gf_event_bus_metrics(struct gf_event_bus *b, struct gf_buf *out)
{
    struct gf_ring_stats rs;
    struct gf_listen_stats ls;

    if (b == NULL) {
        return GF_OK;
    }
    gf_ring_stats(b->ring, &rs);
    gf_listener_stats(b->listener, &ls);
    enum gf_err err = gf_feed_metrics(out);
    if (err != GF_OK) {
        return err;
    }
    return gf_buf_printf(
        out,
        "# HELP gf_events_ring_events Project events held in the ring.\n"
        "# TYPE gf_events_ring_events gauge\ngf_events_ring_events %zu\n"
        "# HELP gf_events_ring_bytes Bytes of SSE messages held in the ring.\n"
        "# TYPE gf_events_ring_bytes gauge\ngf_events_ring_bytes %zu\n"
        "# HELP gf_events_last_seq Highest event seq received.\n"
        "# TYPE gf_events_last_seq gauge\ngf_events_last_seq %" PRIu64 "\n"
        "# HELP gf_events_received_total Project events put in the ring.\n"
        "# TYPE gf_events_received_total counter\ngf_events_received_total %" PRIu64 "\n"
        "# HELP gf_events_catchup_total Events read from the table after a (re)connect.\n"
        "# TYPE gf_events_catchup_total counter\ngf_events_catchup_total %llu\n"
        "# HELP gf_events_big_total Events too large for a notification, read by seq.\n"
        "# TYPE gf_events_big_total counter\ngf_events_big_total %llu\n"
        "# HELP gf_events_dropped_total Notifications that were not events (bad payload).\n"
        "# TYPE gf_events_dropped_total counter\ngf_events_dropped_total %llu\n"
        "# HELP gf_events_reader_overruns_total Readers that fell behind the ring.\n"
        "# TYPE gf_events_reader_overruns_total counter\ngf_events_reader_overruns_total "
        "%" PRIu64 "\n"
        "# HELP gf_events_listen_connected Whether the LISTEN connection is up.\n"
        "# TYPE gf_events_listen_connected gauge\ngf_events_listen_connected %d\n"
        "# HELP gf_events_listen_connects_total LISTEN connections established.\n"
        "# TYPE gf_events_listen_connects_total counter\ngf_events_listen_connects_total "
        "%llu\n",
        rs.events, rs.bytes, rs.last, rs.pushed, atomic_load(&b->caught_up), atomic_load(&b->big),
        atomic_load(&b->bad), rs.overruns, ls.connected, ls.connects);
}
