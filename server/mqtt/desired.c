/* SPDX-License-Identifier: Apache-2.0
 *
 * desired.c - the desired-state outbox (see desired.h). A batch is one transaction: the due
 * rows are taken FOR UPDATE SKIP LOCKED (replicas share the work), their messages published,
 * and the rows marked published only once the broker acknowledged them; until then they
 * stay locked, so a node's next generation cannot overtake the one in flight. A failed
 * publish is retried after a pause.
 *
 * Batches go one after the other: taking the next one on a second connection while the
 * broker acknowledges this one made no difference on the benchmark machine
 * (docs/performance.md, "Rollout to 10,000 stations").
 */
#define GF_LOG_MODULE "fleet"

#include "desired.h"

#include "../store/db.h"
#include "../store/q_bundles.h"
#include "alloc.h"
#include "ids.h"
#include "log.h"
#include "timefmt.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GF_DESIRED_WAIT_MS 5000 /* longest wait for the acknowledgements of one batch */
/* Unacknowledged desired publishes per session at most; also at most half the broker's
 * Receive Maximum (the rest is for commands on the same session). */
#define GF_DESIRED_WINDOW 256
/* A full batch means a backlog for this long at most: a stalled broker or a dropped session
 * (no further batch taken) does not keep the ingest waiting. */
#define GF_DESIRED_BACKLOG_MS 1000

struct batch {
    struct gf_dbconn *db;
    PGresult *rows;
    int n;
    int tokens[GF_DESIRED_BATCH_MAX];
    unsigned slot[GF_DESIRED_BATCH_MAX]; /* index into used[] */
    /* The sessions the batch used, each with its connect count before its first publish. */
    struct gf_mconn *used[GF_DESIRED_SESSIONS_MAX];
    unsigned epoch[GF_DESIRED_SESSIONS_MAX];
    unsigned nused;
    int64_t t0, t_due, t_sent;
};

struct gf_desired {
    int batch;
    struct batch b;
    atomic_llong backlog_us; /* when the last batch, if full, was taken; 0: not full */
    atomic_ullong published, batches;
};

enum gf_err gf_desired_new(int batch, struct gf_desired **out)
{
    if ((*out = gf_calloc(1, sizeof(**out))) == NULL) {
        return GF_ERR_NOMEM;
    }
    (*out)->batch = batch < 1 ? 1 : batch > GF_DESIRED_BATCH_MAX ? GF_DESIRED_BATCH_MAX : batch;
    return GF_OK;
}

void gf_desired_stats(struct gf_desired *d, struct gf_desired_stats *out)
{
    out->published = atomic_load(&d->published);
    out->batches = atomic_load(&d->batches);
}

int gf_desired_backlog(struct gf_desired *d)
{
    long long t = atomic_load(&d->backlog_us);

    return t != 0 && gf_time_mono_us() - t < GF_DESIRED_BACKLOG_MS * 1000LL;
}

void gf_desired_free(struct gf_desired *d)
{
    gf_free(d);
}

static void log_db(const char *what, enum gf_err err)
{
    gf_log_warn("database step failed", "step=%s error=%s", what, gf_err_str(err));
}

/* The number of unacknowledged publishes allowed on s: half the broker's Receive Maximum,
 * at most GF_DESIRED_WINDOW. */
static unsigned window_of(struct gf_mconn *s)
{
    unsigned window = gf_mconn_receive_max(s) / 2;

    return window < 1 ? 1 : window > GF_DESIRED_WINDOW ? GF_DESIRED_WINDOW : window;
}

/* Begin b's transaction and take its due rows; b->n rows (0: nothing due, transaction
 * ended). GF_OK or the database error (transaction rolled back). */
static enum gf_err take(struct batch *b, const char *cluster, int batch)
{
    char limit[16];
    const char *p[2] = {cluster, limit};
    enum gf_err err;

    b->n = 0;
    b->nused = 0;
    b->t0 = gf_time_mono_us();
    if ((err = gf_db_begin(b->db)) != GF_OK) {
        return err;
    }
    snprintf(limit, sizeof(limit), "%d", batch);
    if ((err = gf_db_exec(b->db, &gf_q_desired_due, p, &b->rows)) != GF_OK) {
        log_db("desired due", err);
        gf_db_rollback(b->db);
        b->rows = NULL;
        return err;
    }
    b->t_due = gf_time_mono_us();
    b->n = PQntuples(b->rows);
    if (b->n == 0) {
        PQclear(b->rows);
        b->rows = NULL;
        gf_db_rollback(b->db);
    }
    return GF_OK;
}

/* Wait for b's acknowledgements (one deadline, GF_DESIRED_WAIT_MS after its last publish,
 * for the whole batch: a stalled broker holds these rows and the fleet thread for seconds,
 * not for 5 s per message), mark what the broker acknowledged as published and the rest
 * for a retry, commit. Returns 1 when all of it was acknowledged and stored. */
static int finish(struct batch *b, atomic_ullong *published)
{
    int64_t deadline = b->t_sent + GF_DESIRED_WAIT_MS * 1000LL;
    int ok_session[GF_DESIRED_SESSIONS_MAX];
    enum gf_err err = GF_OK;

    /* A session that reconnected meanwhile lost its answers: its rows are retried. */
    for (unsigned k = 0; k < b->nused; k++) {
        long left = (long)((deadline - gf_time_mono_us()) / 1000);
        ok_session[k] = left > 0 && gf_mconn_flush(b->used[k], left) == GF_OK &&
                        gf_mconn_connects(b->used[k]) == b->epoch[k];
    }
    int64_t t_acked = gf_time_mono_us();
    json_t *done = json_array(), *failed = json_array();
    for (int r = 0; r < b->n; r++) {
        unsigned k = b->slot[r];
        int ok = b->tokens[r] >= 0 && k < b->nused && ok_session[k] &&
                 gf_mconn_outcome(b->used[k], b->tokens[r]) == GF_OK;
        json_array_append_new(ok ? done : failed,
                              json_pack("{s:s, s:I}", "n", PQgetvalue(b->rows, r, 0), "g",
                                        (json_int_t)strtoll(PQgetvalue(b->rows, r, 1), NULL, 10)));
        if (ok) {
            atomic_fetch_add(published, 1);
        }
    }
    /* The outcome is written back in two statements, not per node. */
    char *dtext = json_dumps(done, JSON_COMPACT), *ftext = json_dumps(failed, JSON_COMPACT);
    const char *dp[1] = {dtext}, *fp[2] = {ftext, "not acknowledged by the broker; retrying"};
    size_t nfailed = json_array_size(failed);
    err = dtext == NULL || ftext == NULL ? GF_ERR_NOMEM : GF_OK;
    if (err == GF_OK && json_array_size(done) > 0) {
        err = gf_db_exec(b->db, &gf_q_desired_done, dp, NULL);
    }
    if (err == GF_OK && nfailed > 0) {
        err = gf_db_exec(b->db, &gf_q_desired_failed, fp, NULL);
    }
    free(dtext);
    free(ftext);
    json_decref(done);
    json_decref(failed);
    PQclear(b->rows);
    b->rows = NULL;
    if (err != GF_OK || (err = gf_db_commit(b->db)) != GF_OK) {
        log_db("desired publish", err);
        gf_db_rollback(b->db);
        return 0;
    }
    gf_log_debug("desired published",
                 "rows=%d sessions=%u due_ms=%lld sent_ms=%lld acked_ms=%lld marked_ms=%lld", b->n,
                 b->nused, (long long)(b->t_due - b->t0) / 1000,
                 (long long)(b->t_sent - b->t_due) / 1000, (long long)(t_acked - b->t_sent) / 1000,
                 (long long)(gf_time_mono_us() - t_acked) / 1000);
    return nfailed == 0;
}

/* Publish b's messages, at most a window of them unacknowledged per session. A publish that
 * cannot be sent before the deadline keeps token -1 (its row is retried). */
static void send_batch(struct batch *b, struct gf_mconn *const *sessions, unsigned nsess)
{
    char topic[96];
    int64_t deadline = b->t_due + GF_DESIRED_WAIT_MS * 1000LL;

    for (int r = 0; r < b->n; r++) {
        const char *node = PQgetvalue(b->rows, r, 0), *payload = PQgetvalue(b->rows, r, 2);
        struct gf_mconn *s = sessions[nsess > 1 ? gf_hash_str(node) % nsess : 0];
        unsigned k = 0;

        while (k < b->nused && b->used[k] != s) {
            k++;
        }
        if (k == b->nused) { /* at most nsess <= GF_DESIRED_SESSIONS_MAX of them */
            b->used[k] = s;
            b->epoch[k] = gf_mconn_connects(s);
            b->nused++;
        }
        b->slot[r] = k;
        b->tokens[r] = -1;
        long left = (long)((deadline - gf_time_mono_us()) / 1000);
        snprintf(topic, sizeof(topic), "gf/v1/n/%s/desired", node);
        if (left > 0 && gf_mconn_window(s, window_of(s), left) == GF_OK &&
            gf_mconn_publish_token(s, topic, payload, strlen(payload), 1, 1, &b->tokens[r]) !=
                GF_OK) {
            b->tokens[r] = -1;
        }
    }
    b->t_sent = gf_time_mono_us();
}

long gf_desired_publish(struct gf_desired *d, struct gf_dbconn *db, const char *cluster_id,
                        struct gf_mconn *const *sessions, unsigned nsess, int rounds)
{
    struct batch *b = &d->b;
    long due = 0;

    nsess = nsess < 1 ? 1 : nsess > GF_DESIRED_SESSIONS_MAX ? GF_DESIRED_SESSIONS_MAX : nsess;
    b->db = db;
    for (int i = 0; i < rounds; i++) {
        if (take(b, cluster_id, d->batch) != GF_OK || b->n == 0) {
            atomic_store(&d->backlog_us, 0);
            break;
        }
        atomic_store(&d->backlog_us, b->n >= d->batch ? b->t0 : 0);
        due += b->n;
        atomic_fetch_add(&d->batches, 1);
        send_batch(b, sessions, nsess);
        /* A broker that did not acknowledge this batch would not the next one either: the
         * rest waits for the next pass (and a stopping server is not kept here). */
        if (!finish(b, &d->published) || b->n < d->batch) {
            break;
        }
    }
    b->db = NULL;
    return due;
}
