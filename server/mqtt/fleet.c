/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet.c - the fleet thread (see fleet.h). Each loop: reload the cluster list when it
 * changed (by id and version), start or stop sessions, provision due broker accounts,
 * publish due commands and desired messages; every second the overdue detector (its
 * thresholds are whole seconds; it reads every online node), the command and log stream
 * sweep and the replica heartbeat (with the takeover of a gone replica's sessions,
 * takeover.c); every hour the maintenance (health partitions, telemetry cursors, old log
 * chunks, expired sessions, idempotency keys and login-failure windows).
 *
 * A cluster's sessions: the admin session (broker.h) provisions the server's own service
 * account first; only then does the ingest session connect with it (client id stable per
 * replica and cluster, clean start off, mqtt_session_expiry, so messages that arrive
 * while this replica restarts wait for it in the broker; agents resend anything unacked
 * in any case). Stopped clusters are kept until
 * shutdown because queued ingest items may still point at their session.
 */
#define GF_LOG_MODULE "fleet"

#include "fleet.h"

#include "../core/app.h"
#include "../core/secrets.h"
#include "../store/db.h"
#include "../store/q_access.h"
#include "../store/q_bundles.h"
#include "../store/q_clusters.h"
#include "../store/q_ingest.h"
#include "alloc.h"
#include "broker.h"
#include "cmdout.h"
#include "conn.h"
#include "desired.h"
#include "file.h"
#include "ids.h"
#include "ingest.h"
#include "log.h"
#include "takeover.h"
#include "timefmt.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GF_FLEET_MAX_CLUSTERS 256
#define GF_SERVICE_USER "gf-server"
#define GF_PARTITION_LOCK 7011001 /* advisory lock key of partition maintenance */
#define GF_PARTITIONS_AHEAD 2
#define GF_DESIRED_ROUNDS 25 /* desired batches per loop and cluster at most */

struct cluster {
    char id[40];
    char kind[16];
    char url[260];
    char version[16];
    const struct gf_broker_ops *ops;
    struct gf_broker *admin;
    struct gf_mconn *ingest;
    struct gf_mconn *pub; /* desired messages: PUBACKs not queued behind agent traffic */
    /* mqtt_publishers > 1: more desired sessions; nodes are hashed among pub and these */
    struct gf_mconn *pub_more[GF_DESIRED_SESSIONS_MAX - 1];
    unsigned npub; /* desired sessions: 1 + those in pub_more */
    int service_ready;
    int alive;
    unsigned desired_connects; /* ingest connects the desired outbox has seen */
    struct cluster *next;
};

struct gf_fleet {
    struct gf_app *app;
    struct gf_ingest *ingest;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int kicked; /* gf_fleet_kick: run the loop again at once */
    char replica[20];
    struct cluster *clusters; /* alive and stopped ones */
    int clusters_loaded;      /* the list was read once */
    int64_t next_maintenance_us;
    struct gf_desired *desired;   /* the desired outbox (desired.c) */
    struct gf_takeover *takeover; /* sessions of replicas that are gone (takeover.c) */
    atomic_ullong overdue, provisioned, provision_errors;
};

static void log_db(const char *what, enum gf_err err)
{
    gf_log_warn("database step failed", "step=%s error=%s", what, gf_err_str(err));
}

/* ------------------------------------------------------------------ clusters */

static struct cluster *find(struct gf_fleet *f, const char *id)
{
    for (struct cluster *c = f->clusters; c != NULL; c = c->next) {
        if (c->alive && strcmp(c->id, id) == 0) {
            return c;
        }
    }
    return NULL;
}

static int on_agent_message(void *ud, struct gf_mconn *conn, const char *topic, const void *payload,
                            size_t len)
{
    struct gf_fleet *f = ud;

    return gf_ingest_push(f->ingest, conn, topic, payload, len);
}

/* Stop a cluster's sessions. The ingest handle is only disconnected: queued ingest items
 * may still refer to it for their acks; it is freed at shutdown after the writers. */
static void cluster_stop(struct cluster *c)
{
    if (c->ops != NULL && c->admin != NULL) {
        c->ops->close(c->admin);
    }
    c->admin = NULL;
    gf_mconn_disconnect(c->ingest);
    gf_mconn_disconnect(c->pub);
    for (unsigned k = 0; k + 1 < GF_DESIRED_SESSIONS_MAX; k++) {
        gf_mconn_disconnect(c->pub_more[k]);
    }
    c->alive = 0;
}

static void cluster_start(struct gf_fleet *f, PGresult *res, int row)
{
    struct cluster *c = gf_calloc(1, sizeof(*c));
    char password[300], client_id[64];

    if (c == NULL) {
        return;
    }
    snprintf(c->id, sizeof(c->id), "%s", PQgetvalue(res, row, 0));
    snprintf(c->kind, sizeof(c->kind), "%s", PQgetvalue(res, row, 2));
    snprintf(c->url, sizeof(c->url), "%s", PQgetvalue(res, row, 3));
    snprintf(c->version, sizeof(c->version), "%s", PQgetvalue(res, row, 6));
    c->ops = gf_broker_ops_for(c->kind);
    c->alive = 1;
    c->next = f->clusters;
    f->clusters = c;
    if (c->ops == NULL) {
        gf_log_warn("no provisioning for this broker kind yet; its accounts stay pending",
                    "cluster=%s kind=%s", c->id, c->kind);
        return;
    }
    if (gf_secret_open(f->app->master_key, gf_db_val(res, row, 5), password, sizeof(password)) !=
        GF_OK) {
        gf_log_error("cannot open the cluster's admin password (master key changed?)", "cluster=%s",
                     c->id);
        return;
    }
    snprintf(client_id, sizeof(client_id), "gfa-%s-%.8s", f->replica, c->id);
    if (c->ops->open(c->url, PQgetvalue(res, row, 4), password, client_id, &c->admin) != GF_OK) {
        gf_log_error("cannot start the admin session", "cluster=%s url=%s", c->id, c->url);
    }
    memset(password, 0, sizeof(password));
    gf_log_info("cluster started", "cluster=%s kind=%s url=%s", c->id, c->kind, c->url);
}

/* The strings of an ingest session's options (ingest_opts). */
struct ingest_strings {
    char client_id[64], password[48], subs[6][96];
};

/* The options of replica's ingest session with cluster c (the service account; the
 * shared subscriptions of every agent message the server takes). */
static void ingest_opts(struct gf_fleet *f, const struct cluster *c, const char *replica,
                        struct ingest_strings *s, struct gf_mconn_opts *o)
{
    static const char *const suffixes[6] = {"state",         "birth",   "health",
                                            "bundle/status", "cmd/res", "logs/+"};

    memset(o, 0, sizeof(*o));
    gf_secret_derive(f->app->master_key, "broker-service", c->id, 1, s->password,
                     sizeof(s->password));
    snprintf(s->client_id, sizeof(s->client_id), "gfs-%s-%.8s", replica, c->id);
    for (int i = 0; i < 6; i++) {
        snprintf(s->subs[i], sizeof(s->subs[i]), "$share/gf-%.8s/gf/v1/n/+/%s", c->id, suffixes[i]);
        o->subs[i] = s->subs[i];
    }
    o->nsubs = 6;
    o->url = c->url;
    o->client_id = s->client_id;
    o->username = GF_SERVICE_USER;
    o->password = s->password;
    o->ca_file = f->app->cfg.mqtt_ca_file;
    o->clean_start = 0;
    o->session_expiry = (int)f->app->cfg.mqtt_session_expiry;
    o->keepalive = 30;
    o->on_msg = on_agent_message;
    o->ud = f;
    o->label = "ingest";
}

/* Once the admin session is up: the service account, then the ingest session with it. */
static void cluster_service(struct gf_fleet *f, struct cluster *c)
{
    char client_id[64];
    struct ingest_strings s;
    struct gf_diag d;
    struct gf_mconn_opts o;

    if (c->service_ready || c->admin == NULL || !c->ops->ready(c->admin)) {
        return;
    }
    ingest_opts(f, c, f->replica, &s, &o);
    if (c->ops->ensure(c->admin, GF_SERVICE_USER, s.password, NULL, "gf/v1/n/", &d) != GF_OK) {
        gf_log_warn("cannot provision the service account", "cluster=%s error=%s", c->id, d.msg);
        memset(s.password, 0, sizeof(s.password));
        return;
    }
    if (gf_mconn_start(&o, &c->ingest) == GF_OK) {
        c->service_ready = 1;
        /* A second session of the service account publishes the desired messages: on the
         * ingest session their PUBACKs would queue behind thousands of agent messages. */
        struct gf_mconn_opts po = o;
        snprintf(client_id, sizeof(client_id), "gfp-%s-%.8s", f->replica, c->id);
        po.client_id = client_id; /* rewritten below for each further session */
        po.clean_start = 1;
        po.session_expiry = 0;
        po.nsubs = 0;
        po.on_msg = NULL;
        po.label = "desired";
        if (gf_mconn_start(&po, &c->pub) != GF_OK) {
            gf_log_warn("cannot start the desired-state session", "cluster=%s", c->id);
        }
        /* More of them (mqtt_publishers): each node always on the same one, by its id. */
        c->npub = (unsigned)f->app->cfg.mqtt_publishers;
        c->npub = c->npub < 1                         ? 1
                  : c->npub > GF_DESIRED_SESSIONS_MAX ? GF_DESIRED_SESSIONS_MAX
                                                      : c->npub;
        for (unsigned k = 1; k < c->npub; k++) {
            snprintf(client_id, sizeof(client_id), "gfp%u-%s-%.8s", k, f->replica, c->id);
            if (gf_mconn_start(&po, &c->pub_more[k - 1]) != GF_OK) {
                gf_log_warn("cannot start a desired-state session", "cluster=%s session=%u", c->id,
                            k);
            }
        }
    }
    memset(s.password, 0, sizeof(s.password));
}

static void reload_clusters(struct gf_fleet *f, struct gf_dbconn *db)
{
    PGresult *res = NULL;
    enum gf_err err = gf_db_exec(db, &gf_q_cluster_all, NULL, &res);

    if (err != GF_OK) {
        log_db("cluster list", err);
        return;
    }
    f->clusters_loaded = 1;
    int rows = PQntuples(res);
    for (struct cluster *c = f->clusters; c != NULL; c = c->next) {
        int keep = 0;
        for (int r = 0; c->alive && r < rows; r++) {
            if (strcmp(PQgetvalue(res, r, 0), c->id) == 0 &&
                strcmp(PQgetvalue(res, r, 6), c->version) == 0) {
                keep = 1;
            }
        }
        if (c->alive && !keep) {
            gf_log_info("cluster stopped", "cluster=%s", c->id);
            cluster_stop(c);
        }
    }
    for (int r = 0; r < rows && r < GF_FLEET_MAX_CLUSTERS; r++) {
        if (find(f, PQgetvalue(res, r, 0)) == NULL) {
            cluster_start(f, res, r);
        }
    }
    PQclear(res);
}

/* ------------------------------------------------------------------ accounts */

static void provision_cluster(struct gf_fleet *f, struct gf_dbconn *db, struct cluster *c)
{
    char limit[] = "200";
    const char *p[2] = {c->id, limit};
    PGresult *res = NULL;
    enum gf_err err;

    if ((err = gf_db_begin(db)) != GF_OK) {
        return;
    }
    if ((err = gf_db_exec(db, &gf_q_account_due, p, &res)) != GF_OK) {
        log_db("accounts due", err);
        gf_db_rollback(db);
        return;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        const char *user = PQgetvalue(res, r, 0), *node = gf_db_val(res, r, 1);
        int present = strcmp(PQgetvalue(res, r, 2), "present") == 0;
        struct gf_diag d;
        gf_diag_clear(&d);
        if (c->ops == NULL || c->admin == NULL || !c->ops->ready(c->admin) || c->ingest == NULL ||
            !gf_mconn_connected(c->ingest)) {
            /* Nodes get their account once the server listens, so their first messages
             * (birth) find a subscriber. */
            err = gf_diag_set(&d, GF_ERR_UNAVAILABLE, "broker",
                              c->ops ? "broker sessions not connected yet"
                                     : "no provisioning for this broker kind yet");
        } else if (present) {
            char password[48], root[80];
            gf_secret_derive(f->app->master_key, "broker-password", node ? node : user,
                             strtol(PQgetvalue(res, r, 3), NULL, 10), password, sizeof(password));
            snprintf(root, sizeof(root), "gf/v1/n/%s/", user);
            err = c->ops->ensure(c->admin, user, password, user, root, &d);
            memset(password, 0, sizeof(password));
        } else {
            err = c->ops->remove(c->admin, user, &d);
        }
        const char *dp[3] = {c->id, user, d.msg};
        if (err == GF_OK) {
            atomic_fetch_add(&f->provisioned, 1);
            gf_log_info(present ? "broker account provisioned" : "broker account removed",
                        "cluster=%s user=%s", c->id, user);
            err = gf_db_exec(db, &gf_q_account_done, dp, NULL);
            if (err == GF_OK && present && node != NULL) {
                const char *np[1] = {node};
                err = gf_db_exec(db, &gf_q_node_provisioned, np, NULL);
            }
        } else {
            atomic_fetch_add(&f->provision_errors, 1);
            gf_log_warn("broker account not provisioned, will retry", "cluster=%s user=%s error=%s",
                        c->id, user, d.msg);
            err = gf_db_exec(db, &gf_q_account_failed, dp, NULL);
        }
        if (err != GF_OK) {
            log_db("account update", err);
            break;
        }
    }
    PQclear(res);
    if (err != GF_OK || gf_db_commit(db) != GF_OK) {
        gf_db_rollback(db);
    }
}

/* ------------------------------------------------------------------ desired outbox */

/* The cluster's desired messages (desired.c), once its sessions are up. A node's session is
 * picked by a hash of its id over the mqtt_publishers sessions, so its messages always take
 * the same one and keep their order; a session that could not start is replaced by the
 * first, and that one by the ingest session. */
static void publish_desired(struct gf_fleet *f, struct gf_dbconn *db, struct cluster *c)
{
    struct gf_mconn *sessions[GF_DESIRED_SESSIONS_MAX];
    struct gf_mconn *first = c->pub != NULL ? c->pub : c->ingest;
    enum gf_err err;

    if (c->ingest == NULL || !gf_mconn_connected(first)) {
        return;
    }
    sessions[0] = first;
    for (unsigned k = 1; k < c->npub; k++) {
        sessions[k] = c->pub_more[k - 1] != NULL ? c->pub_more[k - 1] : first;
        if (!gf_mconn_connected(sessions[k])) {
            return; /* (re)connecting: in a moment, rather than 5 s retries for its nodes */
        }
    }
    unsigned connects = gf_mconn_connects(c->ingest);
    if (connects != c->desired_connects) {
        /* A new connection. Unless the broker resumed our ingest session (then it kept its
         * state, retained messages with it), it may have restarted without persistence and
         * lost the retained desired messages: publish them all again (harmless when it did
         * not). */
        const char *rp[1] = {c->id};
        int kept = gf_mconn_session_present(c->ingest);
        if (!kept && (err = gf_db_exec(db, &gf_q_desired_republish, rp, NULL)) != GF_OK) {
            log_db("desired republish", err);
            return;
        }
        gf_log_info(kept ? "broker kept our session: desired messages not republished"
                         : "new broker session: desired messages republished",
                    "cluster=%s", c->id);
        c->desired_connects = connects;
    }
    /* Whole rollout waves at once: batch after batch while they are full. */
    gf_desired_publish(f->desired, db, c->id, sessions, c->npub, GF_DESIRED_ROUNDS);
}

/* ------------------------------------------------------------------ housekeeping */

static void overdue(struct gf_fleet *f, struct gf_dbconn *db)
{
    PGresult *res = NULL;
    enum gf_err err;

    if (!gf_ingest_healthy(f->ingest)) {
        return; /* a backlog is not silence */
    }
    if ((err = gf_db_exec(db, &gf_q_overdue, NULL, &res)) != GF_OK) {
        log_db("overdue", err);
        return;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        atomic_fetch_add(&f->overdue, 1);
        gf_log_info("node offline: overdue", "node=%s", PQgetvalue(res, r, 0));
    }
    PQclear(res);
}

/* The heartbeat, and the sessions of a replica that went silent (takeover.h): claimed only
 * while this replica's own ingest sessions are up, so they are drained into a live ingest. */
static void take_over(struct gf_fleet *f, struct gf_dbconn *db)
{
    char dead[GF_TAKEOVER_ID_MAX];
    int up = f->clusters_loaded; /* an empty list only counts once it was read */

    for (struct cluster *c = f->clusters; c != NULL; c = c->next) {
        if (c->alive && c->ops != NULL && (c->ingest == NULL || !gf_mconn_connected(c->ingest))) {
            up = 0;
        }
    }
    if (!gf_takeover_beat(f->takeover, db, f->app->cfg.replica_stale_s,
                          f->app->cfg.mqtt_session_expiry, up, dead)) {
        return;
    }
    for (struct cluster *c = f->clusters; c != NULL; c = c->next) {
        if (c->alive && c->service_ready) {
            struct ingest_strings s;
            struct gf_mconn_opts o;
            ingest_opts(f, c, dead, &s, &o);
            if (gf_takeover_add(f->takeover, &o) != GF_OK) {
                gf_log_warn("cannot take over a session", "replica=%s cluster=%s", dead, c->id);
            }
            memset(s.password, 0, sizeof(s.password));
        }
    }
    gf_takeover_claimed(f->takeover, db);
}

static void maintenance(struct gf_fleet *f, struct gf_dbconn *db)
{
    char back[16], ahead[16], window[16];
    PGresult *made = NULL, *dropped = NULL, *purged = NULL;
    const char *pp[2] = {back, ahead};
    const char *rp[1] = {back};
    const char *wp[1] = {window};
    enum gf_err err;

    snprintf(back, sizeof(back), "%ld", f->app->cfg.health_retention_days);
    snprintf(ahead, sizeof(ahead), "%d", GF_PARTITIONS_AHEAD);
    snprintf(window, sizeof(window), "%ld", f->app->cfg.login_window);
    if ((err = gf_db_begin(db)) != GF_OK) {
        return;
    }
    err = gf_db_exec_sql(db, "SELECT pg_advisory_xact_lock(7011001)");
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_health_partitions, pp, &made);
    }
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_health_retention, rp, &dropped);
    }
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_cursor_prune, rp, NULL);
    }
    if (err == GF_OK) {
        err = gf_cmdout_prune(db);
    }
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_bookkeeping_purge, wp, &purged);
    }
    if (err == GF_OK && (err = gf_db_commit(db)) == GF_OK) {
        gf_log_info("health partitions maintained", "created=%s dropped=%s retention_days=%s",
                    gf_db_val(made, 0, 0), gf_db_val(dropped, 0, 0), back);
        gf_log_info("expired request bookkeeping deleted",
                    "sessions=%s idempotency_keys=%s login_failures=%s", gf_db_val(purged, 0, 0),
                    gf_db_val(purged, 0, 1), gf_db_val(purged, 0, 2));
    } else {
        gf_db_rollback(db);
        log_db("partition maintenance", err);
    }
    PQclear(made);
    PQclear(dropped);
    PQclear(purged);
}

static void *fleet_main(void *arg)
{
    struct gf_fleet *f = arg;
    int64_t next_reload = 0, next_sweep = 0;

    for (;;) {
        struct gf_dbconn *db = NULL;
        int64_t now = gf_time_now_us();

        pthread_mutex_lock(&f->mu);
        if (f->stopping) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        pthread_mutex_unlock(&f->mu);
        if (gf_db_acquire(f->app->db, &db) == GF_OK) {
            if (now >= f->next_maintenance_us) {
                maintenance(f, db);
                f->next_maintenance_us = now + 3600LL * 1000000;
            }
            if (now >= next_reload) {
                reload_clusters(f, db);
                next_reload = now + 1000000;
            }
            for (struct cluster *c = f->clusters; c != NULL; c = c->next) {
                if (c->alive) {
                    cluster_service(f, c);
                    provision_cluster(f, db, c);
                    /* Commands first: an operator is waiting for them. */
                    gf_cmdout_publish(db, c->id, c->pub != NULL ? c->pub : c->ingest);
                    publish_desired(f, db, c);
                }
            }
            if (now >= next_sweep) {
                overdue(f, db);
                gf_cmdout_sweep(db);
                take_over(f, db);
                next_sweep = now + 1000000;
            }
            gf_takeover_tick(f->takeover, db);
            gf_db_release(f->app->db, db);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ms = f->app->cfg.fleet_interval_ms;
        until.tv_sec += ms / 1000;
        until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&f->mu);
        if (!f->stopping && !f->kicked) {
            pthread_cond_timedwait(&f->cv, &f->mu, &until);
        }
        f->kicked = 0;
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

/* The replica id: random, kept in state_dir so a restarted server resumes its broker
 * sessions (and what the broker queued for them). */
static void replica_id(struct gf_fleet *f)
{
    char path[1024];
    struct gf_buf b;

    snprintf(path, sizeof(path), "%s/replica.id", f->app->cfg.state_dir);
    gf_buf_init(&b, 64);
    if (gf_file_read(path, &b) == GF_OK && b.len >= 8) {
        snprintf(f->replica, sizeof(f->replica), "%.8s", b.data);
    } else {
        char rnd[16];
        gf_random_b64url(rnd, sizeof(rnd), 6);
        for (char *p = rnd; *p; p++) {
            if (*p == '-' || *p == '_') {
                *p = 'x';
            }
        }
        snprintf(f->replica, sizeof(f->replica), "%.8s", rnd);
        if (gf_file_write_atomic(path, f->replica, strlen(f->replica), 0600) != GF_OK) {
            gf_log_warn("cannot keep the replica id; broker sessions restart fresh", "path=%s",
                        path);
        }
    }
    gf_buf_free(&b);
}

/* The ingest's hold (ingest.h): notifications first while the outbox has a backlog. */
static int outbox_backlog(void *desired)
{
    return gf_desired_backlog(desired);
}

enum gf_err gf_fleet_start(struct gf_app *app, struct gf_fleet **out)
{
    struct gf_fleet *f = gf_calloc(1, sizeof(*f));
    struct gf_ingest_opts io;
    enum gf_err err;

    *out = NULL;
    if (f == NULL) {
        return GF_ERR_NOMEM;
    }
    f->app = app;
    replica_id(f);
    io.writers = (int)app->cfg.ingest_writers;
    io.queue_max = (size_t)app->cfg.ingest_queue;
    io.queue_bytes = (size_t)app->cfg.ingest_queue_bytes;
    io.batch_max = (size_t)app->cfg.ingest_batch;
    io.retention_days = (int)app->cfg.health_retention_days;
    io.hold = outbox_backlog;
    if ((err = gf_desired_new((int)app->cfg.desired_batch, &f->desired)) != GF_OK) {
        gf_free(f);
        return err;
    }
    io.hold_arg = f->desired;
    if ((err = gf_ingest_start(app, &io, &f->ingest)) != GF_OK) {
        gf_desired_free(f->desired);
        gf_free(f);
        return err;
    }
    if ((err = gf_takeover_new(f->ingest, f->replica, &f->takeover)) != GF_OK) {
        gf_ingest_stop(f->ingest);
        gf_desired_free(f->desired);
        gf_free(f);
        return err;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, fleet_main, f) != 0) {
        gf_ingest_stop(f->ingest);
        gf_takeover_free(f->takeover);
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        gf_desired_free(f->desired);
        gf_free(f);
        return GF_ERR_IO;
    }
    gf_log_info("fleet started", "replica=%s", f->replica);
    *out = f;
    return GF_OK;
}

void gf_fleet_stop(struct gf_fleet *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->stopping = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    /* Stop taking messages first, then let the writers finish what they hold (their acks
     * find the sessions disconnected and are dropped: agents resend), then free. */
    for (struct cluster *c = f->clusters; c != NULL; c = c->next) {
        gf_mconn_disconnect(c->ingest);
    }
    gf_takeover_stop(f->takeover);
    gf_ingest_stop(f->ingest);
    gf_takeover_free(f->takeover);
    while (f->clusters != NULL) {
        struct cluster *c = f->clusters;
        f->clusters = c->next;
        cluster_stop(c);
        gf_mconn_stop(c->ingest);
        gf_mconn_stop(c->pub);
        for (unsigned k = 0; k + 1 < GF_DESIRED_SESSIONS_MAX; k++) {
            gf_mconn_stop(c->pub_more[k]);
        }
        gf_free(c);
    }
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    gf_desired_free(f->desired);
    gf_free(f);
}

void gf_fleet_kick(struct gf_fleet *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->kicked = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

enum gf_err gf_fleet_metrics(struct gf_fleet *f, struct gf_buf *out)
{
    struct gf_desired_stats ds;

    gf_desired_stats(f->desired, &ds);
    enum gf_err err = gf_buf_printf(
        out,
        "# HELP gf_nodes_overdue_total Nodes marked offline by the overdue detector.\n"
        "# TYPE gf_nodes_overdue_total counter\ngf_nodes_overdue_total %llu\n"
        "# HELP gf_broker_accounts_total Broker accounts provisioned or removed.\n"
        "# TYPE gf_broker_accounts_total counter\ngf_broker_accounts_total %llu\n"
        "# HELP gf_broker_account_errors_total Failed provisioning attempts (retried).\n"
        "# TYPE gf_broker_account_errors_total counter\ngf_broker_account_errors_total %llu\n"
        "# HELP gf_desired_published_total Retained desired messages the broker acknowledged.\n"
        "# TYPE gf_desired_published_total counter\ngf_desired_published_total %llu\n"
        "# HELP gf_desired_batches_total Batches of desired messages taken from the outbox.\n"
        "# TYPE gf_desired_batches_total counter\ngf_desired_batches_total %llu\n",
        (unsigned long long)atomic_load(&f->overdue),
        (unsigned long long)atomic_load(&f->provisioned),
        (unsigned long long)atomic_load(&f->provision_errors), ds.published, ds.batches);
    if (err == GF_OK) {
        err = gf_takeover_metrics(f->takeover, out);
    }
    return err == GF_OK ? gf_ingest_metrics(f->ingest, out) : err;
}
