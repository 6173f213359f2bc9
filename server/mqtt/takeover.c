/* SPDX-License-Identifier: Apache-2.0
 *
 * takeover.c - draining the broker sessions of a replica that is gone (see takeover.h).
 *
 * A claim goes through the sessions of the claimed replica, one per cluster, each a job:
 * connecting (the broker resumes the session: clean start off; what it queued arrives at
 * once), draining (until no message came for QUIET_MS, at most DRAIN_MAX_MS), settling
 * (unsubscribed from the shared filters, so no new message is routed to the session; the
 * ones already under way still arrive for SETTLE_MS), then ended: the DISCONNECT sets the
 * session expiry to 0. Until then the session keeps its expiry, so a drain cut short (this
 * replica stopping or failing, the network) leaves it, with what it still queues, for the
 * next try or for its replica. A job fails when the broker does not accept the connection
 * within CONNECT_MS or drops it (the replica came back and took its session: the broker
 * hands it over to the newest connection, and ours does not reconnect to take it back).
 * When every job is done the replica's row is deleted; when one failed (or could not be
 * started) the claim is given back, and this replica claims nothing for CLAIM_BACKOFF_MS.
 * Messages already taken refer to their session for the ack, so a session that delivered
 * any is kept, disconnected, until gf_takeover_free: one per cluster per replica that went
 * away. The others are freed when their claim is settled.
 */
#define GF_LOG_MODULE "fleet"

#include "takeover.h"

#include "../store/db.h"
#include "../store/q_clusters.h"
#include "alloc.h"
#include "ingest.h"
#include "log.h"
#include "timefmt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define CONNECT_MS 10000   /* the broker must accept the resumed session within this */
#define QUIET_MS 1000      /* no message for this long: the session is drained */
#define DRAIN_MAX_MS 30000 /* a session that never goes quiet is ended after this */
#define SETTLE_MS 1000     /* after the unsubscribe, for messages already under way */
#define CLAIM_BACKOFF_MS 30000
/* A broker notices a vanished replica 1.5 keepalives (30 s) late; its session expires
 * mqtt_session_expiry after that. */
#define EXPIRED_MARGIN_S 55

enum job_state { J_CONNECTING, J_DRAINING, J_SETTLING, J_DONE, J_FAILED };

struct job {
    struct job *next;
    struct gf_takeover *t;
    struct gf_mconn *conn;
    char label[48];
    char *filters[GF_MCONN_SUBS];
    size_t nfilters;
    enum job_state state;
    int current; /* belongs to the claim in progress */
    int64_t since_us;
    atomic_llong last_msg_us;
    atomic_ullong messages;
};

struct gf_takeover {
    struct gf_ingest *ing;
    char replica[GF_TAKEOVER_ID_MAX];
    char dead[GF_TAKEOVER_ID_MAX]; /* the claim in progress; "" when none */
    int released;                  /* claims left by an earlier run of this replica given back */
    int add_failed;                /* a session of the claim could not be started */
    int64_t no_claim_until_us;     /* after a claim that was not drained */
    struct job *jobs;              /* every session taken over so far (for the acks) */
    atomic_ullong sessions, messages, failures;
};

enum gf_err gf_takeover_new(struct gf_ingest *ing, const char *replica, struct gf_takeover **out)
{
    struct gf_takeover *t = gf_calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL) {
        return GF_ERR_NOMEM;
    }
    t->ing = ing;
    snprintf(t->replica, sizeof(t->replica), "%s", replica);
    *out = t;
    return GF_OK;
}

/* paho's receive thread: into this replica's ingest (the ack goes back on this session). */
static int on_msg(void *ud, struct gf_mconn *conn, const char *topic, const void *payload,
                  size_t len)
{
    struct job *j = ud;

    atomic_store(&j->last_msg_us, gf_time_mono_us());
    atomic_fetch_add(&j->messages, 1);
    atomic_fetch_add(&j->t->messages, 1);
    return gf_ingest_push(j->t->ing, conn, topic, payload, len);
}

static void job_free(struct job *j)
{
    gf_mconn_stop(j->conn);
    for (size_t i = 0; i < j->nfilters; i++) {
        gf_free(j->filters[i]);
    }
    gf_free(j);
}

/* The claim is over: the row deleted (drained) or the claim given back (not). Its sessions
 * that delivered nothing are freed (no queued message refers to them). 0 when the
 * database could not be told (again on the next tick). */
static int settle(struct gf_takeover *t, struct gf_dbconn *db, int drained)
{
    const char *p[2] = {t->dead, t->replica};
    enum gf_err err =
        gf_db_exec(db, drained ? &gf_q_replica_forget : &gf_q_replica_release, p, NULL);

    if (err != GF_OK) {
        gf_log_warn("database step failed", "step=replica settle error=%s", gf_err_str(err));
        return 0;
    }
    gf_log_info(drained ? "replica's sessions drained" : "replica's sessions not drained; later",
                "replica=%s", t->dead);
    for (struct job **pj = &t->jobs; *pj != NULL;) {
        struct job *j = *pj;
        if (j->current && atomic_load(&j->messages) == 0) {
            *pj = j->next;
            job_free(j); /* disconnected: paho calls it back no more */
        } else {
            j->current = 0;
            pj = &j->next;
        }
    }
    if (!drained) {
        t->no_claim_until_us = gf_time_mono_us() + CLAIM_BACKOFF_MS * 1000LL;
    }
    t->dead[0] = '\0';
    t->add_failed = 0;
    return 1;
}

int gf_takeover_beat(struct gf_takeover *t, struct gf_dbconn *db, long stale_s, long expiry_s,
                     int can_claim, char dead[GF_TAKEOVER_ID_MAX])
{
    char stale[24], expired_after[24];
    const char *p1[1] = {t->replica}, *p3[3] = {t->replica, stale, expired_after};

    if (!t->released) { /* a claim of this replica's earlier run would never end */
        t->released = gf_db_exec(db, &gf_q_replica_release_mine, p1, NULL) == GF_OK;
    }
    if (gf_db_exec(db, &gf_q_replica_beat, p1, NULL) != GF_OK || !can_claim || t->dead[0] ||
        gf_time_mono_us() < t->no_claim_until_us) {
        return 0;
    }
    snprintf(stale, sizeof(stale), "%ld", stale_s);
    snprintf(expired_after, sizeof(expired_after), "%ld", expiry_s + EXPIRED_MARGIN_S);
    for (int i = 0; i < 8; i++) {
        PGresult *res = NULL;
        if (gf_db_exec(db, &gf_q_replica_claim, p3, &res) != GF_OK || PQntuples(res) != 1) {
            PQclear(res);
            return 0;
        }
        snprintf(t->dead, sizeof(t->dead), "%s", PQgetvalue(res, 0, 0));
        int expired = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
        PQclear(res);
        if (!expired) {
            gf_log_info("replica silent; taking over its sessions", "replica=%s stale_s=%ld",
                        t->dead, stale_s);
            snprintf(dead, GF_TAKEOVER_ID_MAX, "%s", t->dead);
            return 1;
        }
        if (!settle(t, db, 1)) { /* its sessions expired at the broker: nothing to drain */
            return 0;
        }
    }
    return 0;
}

enum gf_err gf_takeover_add(struct gf_takeover *t, const struct gf_mconn_opts *o)
{
    struct gf_mconn_opts mo = *o;
    struct job *j = gf_calloc(1, sizeof(*j));
    enum gf_err err = GF_OK;

    if (j == NULL) {
        t->add_failed = 1;
        return GF_ERR_NOMEM;
    }
    j->t = t;
    for (size_t i = 0; i < o->nsubs && i < GF_MCONN_SUBS && err == GF_OK; i++) {
        j->filters[i] = gf_strdup(o->subs[i]);
        err = j->filters[i] != NULL ? GF_OK : GF_ERR_NOMEM;
        j->nfilters = i + 1;
    }
    snprintf(j->label, sizeof(j->label), "takeover-%s", t->dead);
    mo.clean_start = 0;  /* resume it, with what the broker queued (its expiry is kept) */
    mo.no_reconnect = 1; /* never take it back from a replica that returned */
    mo.nsubs = 0;        /* the session has its subscriptions */
    mo.on_msg = on_msg;
    mo.ud = j;
    mo.label = j->label;
    j->state = J_CONNECTING;
    j->current = 1;
    j->since_us = gf_time_mono_us();
    if (err == GF_OK) {
        err = gf_mconn_start(&mo, &j->conn);
    }
    if (err != GF_OK) {
        job_free(j);
        t->add_failed = 1; /* the claim is given back: that session is not drained */
        return err;
    }
    j->next = t->jobs;
    t->jobs = j;
    return GF_OK;
}

void gf_takeover_claimed(struct gf_takeover *t, struct gf_dbconn *db)
{
    for (struct job *j = t->jobs; j != NULL; j = j->next) {
        if (j->current) {
            return;
        }
    }
    if (t->dead[0]) {
        settle(t, db, !t->add_failed); /* no cluster (or none started): no session */
    }
}

static void fail(struct job *j, const char *why)
{
    gf_log_warn("session not drained", "conn=%s reason=\"%s\" messages=%llu", j->label, why,
                (unsigned long long)atomic_load(&j->messages));
    gf_mconn_disconnect(j->conn);
    j->state = J_FAILED;
    atomic_fetch_add(&j->t->failures, 1);
}

static void step(struct job *j, int64_t now)
{
    int64_t in_state = (now - j->since_us) / 1000;

    switch (j->state) {
    case J_CONNECTING:
        if (gf_mconn_connected(j->conn)) {
            gf_log_info("draining a session", "conn=%s", j->label);
            j->state = J_DRAINING;
            j->since_us = now;
        } else if (in_state > CONNECT_MS) {
            fail(j, "the broker did not accept the connection");
        }
        break;
    case J_DRAINING: {
        int64_t last = atomic_load(&j->last_msg_us);
        int64_t quiet = (now - (last > j->since_us ? last : j->since_us)) / 1000;
        if (!gf_mconn_connected(j->conn)) {
            fail(j, "connection lost (the replica came back?)");
        } else if (quiet > QUIET_MS || in_state > DRAIN_MAX_MS) {
            (void)gf_mconn_unsubscribe(j->conn, (const char *const *)j->filters, j->nfilters);
            j->state = J_SETTLING;
            j->since_us = now;
        }
        break;
    }
    case J_SETTLING:
        if (!gf_mconn_connected(j->conn)) {
            fail(j, "connection lost while settling"); /* the session keeps what it holds */
        } else if (in_state > SETTLE_MS) {
            gf_mconn_end_session(j->conn);
            j->state = J_DONE;
            atomic_fetch_add(&j->t->sessions, 1);
            gf_log_info("session drained and ended", "conn=%s messages=%llu", j->label,
                        (unsigned long long)atomic_load(&j->messages));
        }
        break;
    case J_DONE:
    case J_FAILED:
        break;
    }
}

void gf_takeover_tick(struct gf_takeover *t, struct gf_dbconn *db)
{
    int64_t now = gf_time_mono_us();
    int open = 0, failed = 0;

    if (t->dead[0] == '\0') {
        return;
    }
    for (struct job *j = t->jobs; j != NULL; j = j->next) {
        if (j->current) {
            step(j, now);
            open += j->state != J_DONE && j->state != J_FAILED;
            failed += j->state == J_FAILED;
        }
    }
    if (open == 0) {
        settle(t, db, failed == 0 && !t->add_failed);
    }
}

void gf_takeover_stop(struct gf_takeover *t)
{
    for (struct job *j = t ? t->jobs : NULL; j != NULL; j = j->next) {
        gf_mconn_disconnect(j->conn);
    }
}

enum gf_err gf_takeover_metrics(struct gf_takeover *t, struct gf_buf *out)
{
    return gf_buf_printf(
        out,
        "# HELP gf_takeover_sessions_total Sessions of gone replicas drained and ended.\n"
        "# TYPE gf_takeover_sessions_total counter\ngf_takeover_sessions_total %llu\n"
        "# HELP gf_takeover_messages_total Agent messages drained from them.\n"
        "# TYPE gf_takeover_messages_total counter\ngf_takeover_messages_total %llu\n"
        "# HELP gf_takeover_failures_total Sessions that could not be drained (tried again).\n"
        "# TYPE gf_takeover_failures_total counter\ngf_takeover_failures_total %llu\n",
        (unsigned long long)atomic_load(&t->sessions),
        (unsigned long long)atomic_load(&t->messages),
        (unsigned long long)atomic_load(&t->failures));
}

void gf_takeover_free(struct gf_takeover *t)
{
    if (t == NULL) {
        return;
    }
    while (t->jobs != NULL) {
        struct job *j = t->jobs;
        t->jobs = j->next;
        job_free(j);
    }
    gf_free(t);
}
