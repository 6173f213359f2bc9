/* SPDX-License-Identifier: Apache-2.0
 *
 * logview.c - log stream viewers (see logview.h). The registry is a list under one mutex:
 * a notification ('<stream>:<seq>' for chunks, '<stream>:end' when the stream ended or went
 * away: migration 0009) marks the viewers of its stream dirty and wakes them; a viewer's
 * next() reads on a pooled connection only when it is dirty (so heartbeats cost no query),
 * and stays dirty while it has more to send.
 */
#define GF_LOG_MODULE "logview"

#include "logview.h"

#include "../core/app.h"
#include "../store/db.h"
#include "../store/q_commands.h"
#include "alloc.h"
#include "listen.h"
#include "log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gf_logview {
    struct gf_logviews *views;
    struct gf_logview *next;
    char stream[40];
    uint64_t after; /* last seq sent */
    void *sse;
    atomic_int dirty; /* something may have changed since next() last read */
    int ended;        /* the end message is out */
};

struct gf_logviews {
    struct gf_app *app;
    struct gf_listener *listener;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gf_logview *head;
    int stopping;
    pthread_t toucher;
    int toucher_started;
};

static void wake_stream(struct gf_logviews *v, const char *stream)
{
    pthread_mutex_lock(&v->mu);
    for (struct gf_logview *w = v->head; w != NULL; w = w->next) {
        if (stream == NULL || strcmp(w->stream, stream) == 0) {
            atomic_store(&w->dirty, 1);
            gf_sse_wake(w->sse);
        }
    }
    pthread_mutex_unlock(&v->mu);
}

/* '<stream uuid>:<seq>' or '<stream uuid>:end' */
static void on_notify(void *arg, PGconn *c, const char *payload)
{
    char stream[40];
    const char *colon = strchr(payload, ':');

    (void)c;
    if (colon == NULL || colon - payload != 36) {
        return;
    }
    memcpy(stream, payload, 36);
    stream[36] = '\0';
    wake_stream(arg, stream);
}

/* After a reconnect every viewer looks again: chunks may have committed meanwhile. */
static void on_connected(void *arg, PGconn *c)
{
    (void)c;
    wake_stream(arg, NULL);
}

/* Mark the streams watched here, every GF_LOGVIEW_TOUCH_S. */
static void *toucher(void *arg)
{
    struct gf_logviews *v = arg;

    pthread_mutex_lock(&v->mu);
    while (!v->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += GF_LOGVIEW_TOUCH_S;
        pthread_cond_timedwait(&v->cv, &v->mu, &until);
        if (v->stopping || v->head == NULL) {
            continue;
        }
        json_t *ids = json_array();
        for (struct gf_logview *w = v->head; w != NULL && ids != NULL; w = w->next) {
            json_array_append_new(ids, json_string(w->stream));
        }
        pthread_mutex_unlock(&v->mu);
        char *text = ids ? json_dumps(ids, JSON_COMPACT) : NULL;
        struct gf_dbconn *db = NULL;
        if (text != NULL && gf_db_acquire(v->app->db, &db) == GF_OK) {
            /* uuid[] from a JSON array: '["a","b"]' -> '{"a","b"}' */
            text[0] = '{';
            text[strlen(text) - 1] = '}';
            const char *p[1] = {text};
            if (gf_db_exec(db, &gf_q_log_streams_viewed, p, NULL) != GF_OK) {
                gf_log_warn("cannot mark log streams watched", "%s", "");
            }
            gf_db_release(v->app->db, db);
        }
        free(text);
        json_decref(ids);
        pthread_mutex_lock(&v->mu);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

enum gf_err gf_logviews_start(struct gf_app *app, struct gf_logviews **out)
{
    struct gf_logviews *v = gf_calloc(1, sizeof(*v));
    enum gf_err err;

    *out = NULL;
    if (v == NULL) {
        return GF_ERR_NOMEM;
    }
    v->app = app;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    struct gf_listen_handler h = {"gf_log", on_notify, on_connected, v};
    if ((err = gf_listener_new(gf_db_conninfo(app->db), &v->listener)) != GF_OK ||
        (err = gf_listener_add(v->listener, &h)) != GF_OK ||
        (err = gf_listener_start(v->listener)) != GF_OK) {
        gf_logviews_stop(v);
        return err;
    }
    if (pthread_create(&v->toucher, NULL, toucher, v) != 0) {
        gf_logviews_stop(v);
        return GF_ERR_IO;
    }
    v->toucher_started = 1;
    *out = v;
    return GF_OK;
}

void gf_logviews_stop(struct gf_logviews *v)
{
    if (v == NULL) {
        return;
    }
    gf_listener_stop(v->listener);
    pthread_mutex_lock(&v->mu);
    v->stopping = 1;
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    if (v->toucher_started) {
        pthread_join(v->toucher, NULL);
    }
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    gf_free(v);
}

enum gf_err gf_logview_open(struct gf_logviews *v, const char *stream, uint64_t after, void *sse,
                            struct gf_logview **out)
{
    struct gf_logview *w = gf_calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL) {
        return GF_ERR_NOMEM;
    }
    w->views = v;
    snprintf(w->stream, sizeof(w->stream), "%s", stream);
    w->after = after;
    w->sse = sse;
    atomic_store(&w->dirty, 1);
    pthread_mutex_lock(&v->mu);
    w->next = v->head;
    v->head = w;
    pthread_mutex_unlock(&v->mu);
    *out = w;
    return GF_OK;
}

/* The end message when the stream ended and everything up to its last chunk is out:
 * GF_ERR_NOTFOUND (ends the response) once it is appended, GF_OK otherwise. */
static enum gf_err maybe_end(struct gf_logview *w, struct gf_dbconn *db, struct gf_buf *out)
{
    PGresult *res = NULL;
    const char *p[1] = {w->stream};
    enum gf_err err = gf_db_exec(db, &gf_q_log_stream_state, p, &res);

    if (err != GF_OK) {
        return err;
    }
    const char *state = PQntuples(res) ? PQgetvalue(res, 0, 0) : "ended";
    uint64_t last = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 2), NULL, 10) : 0;
    if ((strcmp(state, "ended") == 0 || strcmp(state, "failed") == 0) && w->after >= last) {
        json_t *d = json_pack("{s:s, s:s, s:I}", "state", state, "reason",
                              PQntuples(res) ? PQgetvalue(res, 0, 1) : "gone", "last_seq",
                              (json_int_t)last);
        char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
        err = text == NULL ? GF_ERR_NOMEM : gf_sse_message(out, NULL, "end", text);
        free(text);
        json_decref(d);
        if (err == GF_OK) {
            w->ended = 1;
            err = GF_ERR_NOTFOUND;
        } else if (err == GF_ERR_TOOBIG) {
            atomic_store(&w->dirty, 1);
            err = GF_OK; /* next time, when the buffer has room */
        }
    }
    PQclear(res);
    return err;
}

/* A chunk alone larger than the client's buffer: its place in the sequence, without lines,
 * so the viewer goes on (GF_ERR_TOOBIG if even that does not fit). */
static enum gf_err oversized(struct gf_buf *out, const char *id, size_t bytes)
{
    char data[160];

    snprintf(data, sizeof(data), "{\"seq\":%s,\"lines\":[],\"omitted_bytes\":%zu}", id, bytes);
    return gf_sse_message(out, id, "chunk", data);
}

static enum gf_err next(void *state, struct gf_buf *out)
{
    struct gf_logview *w = state;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    char after[24], limit[16], id[24];
    int rows = 0, sent = 0;
    enum gf_err err;

    if (w->ended) {
        return GF_ERR_NOTFOUND;
    }
    if (!atomic_exchange(&w->dirty, 0)) {
        return GF_OK; /* no notification since the last read: nothing new */
    }
    if ((err = gf_db_acquire(w->views->app->db, &db)) != GF_OK) {
        atomic_store(&w->dirty, 1);
        return err;
    }
    snprintf(after, sizeof(after), "%llu", (unsigned long long)w->after);
    snprintf(limit, sizeof(limit), "%d", GF_LOGVIEW_BATCH);
    const char *p[3] = {w->stream, after, limit};
    if ((err = gf_db_exec(db, &gf_q_log_chunks_after, p, &res)) != GF_OK) {
        goto out;
    }
    rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        snprintf(id, sizeof(id), "%s", PQgetvalue(res, r, 0));
        enum gf_err e = gf_sse_message(out, id, "chunk", PQgetvalue(res, r, 1));
        if (e == GF_ERR_TOOBIG && sent == 0) {
            e = oversized(out, id, (size_t)PQgetlength(res, r, 1));
        }
        if (e == GF_ERR_TOOBIG) {
            break; /* the rest when the client took this */
        }
        if (e != GF_OK) {
            err = e;
            goto out;
        }
        w->after = strtoull(id, NULL, 10);
        sent++;
    }
    if (sent == rows && rows < GF_LOGVIEW_BATCH) {
        err = maybe_end(w, db, out);
    }
out:
    if (err == GF_OK && !w->ended && (sent < rows || rows == GF_LOGVIEW_BATCH)) {
        atomic_store(&w->dirty, 1); /* more to send once the client took this */
    }
    PQclear(res);
    gf_db_release(w->views->app->db, db);
    return err;
}

static void close_view(void *state)
{
    struct gf_logview *w = state;
    struct gf_logviews *v = w->views;

    pthread_mutex_lock(&v->mu);
    for (struct gf_logview **pp = &v->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&v->mu);
    gf_free(w);
}

const struct gf_sse_source gf_logview_source = {"log-stream", next, close_view};
