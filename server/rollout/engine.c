/* SPDX-License-Identifier: Apache-2.0
 *
 * engine.c - the rollout engine's thread (see engine.h). It waits in poll() on its LISTEN
 * connection and on an eventfd (kicks from this process), at most rollout_interval_ms, then
 * steps every active rollout once on a pooled connection. The LISTEN connection is its own
 * (a pooled one goes back to the pool between uses and would miss notifications); when it
 * breaks, the engine keeps stepping on the timer and reconnects it.
 */
#define GF_LOG_MODULE "rollout"

#include "engine.h"

#include "../core/app.h"
#include "../mqtt/fleet.h"
#include "../store/db.h"
#include "../store/q_rollouts.h"
#include "alloc.h"
#include "log.h"
#include "timefmt.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct gf_rollout_engine {
    struct gf_app *app;
    pthread_t thread;
    int efd; /* eventfd: kicks and stop */
    atomic_int stopping;
    PGconn *listen; /* LISTEN gf_rollout; NULL while broken */
    int64_t listen_retry_us;
    atomic_ullong steps, notified, wakeups, errors;
};

static void listen_close(struct gf_rollout_engine *e)
{
    if (e->listen != NULL) {
        PQfinish(e->listen);
        e->listen = NULL;
    }
}

static void listen_open(struct gf_rollout_engine *e)
{
    int64_t now = gf_time_mono_us();

    if (e->listen != NULL || now < e->listen_retry_us) {
        return;
    }
    e->listen_retry_us = now + 2000000;
    PGconn *c = PQconnectdb(gf_db_conninfo(e->app->db));
    PGresult *r = c && PQstatus(c) == CONNECTION_OK ? PQexec(c, "LISTEN gf_rollout") : NULL;
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        gf_log_warn("cannot listen for rollout events; stepping on the timer only", "error=%s",
                    c ? PQerrorMessage(c) : "out of memory");
        PQclear(r);
        PQfinish(c);
        return;
    }
    PQclear(r);
    PQsetnonblocking(c, 1);
    e->listen = c;
}

/* Wait for a notification, a kick or the interval; drain what arrived. */
static void wait_for_work(struct gf_rollout_engine *e)
{
    struct pollfd pfd[2] = {{e->efd, POLLIN, 0}, {-1, POLLIN, 0}};
    uint64_t n;

    listen_open(e);
    if (e->listen != NULL) {
        pfd[1].fd = PQsocket(e->listen);
    }
    int rc = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, (int)e->app->cfg.rollout_interval_ms);
    if (rc > 0 && (pfd[0].revents & POLLIN)) {
        if (read(e->efd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
            gf_log_warn("eventfd read failed", "errno=%d", errno);
        }
    }
    if (e->listen != NULL) {
        if (!PQconsumeInput(e->listen)) {
            gf_log_warn("rollout listen connection lost", "error=%s", PQerrorMessage(e->listen));
            listen_close(e);
            return;
        }
        PGnotify *nt;
        while ((nt = PQnotifies(e->listen)) != NULL) {
            atomic_fetch_add(&e->wakeups, 1);
            PQfreemem(nt);
        }
    }
}

/* One round over the active rollouts; 1 when a step notified a full batch (more wait). */
static int step_all(struct gf_rollout_engine *e)
{
    struct gf_dbconn *db = NULL;
    PGresult *ids = NULL;
    long total = 0;
    int more = 0;

    if (gf_db_acquire(e->app->db, &db) != GF_OK) {
        return 0;
    }
    if (gf_db_exec(db, &gf_q_rollout_active, NULL, &ids) == GF_OK) {
        for (int r = 0; r < PQntuples(ids) && !atomic_load(&e->stopping); r++) {
            long notified = 0;
            int64_t t0 = gf_time_mono_us();
            if (gf_rollout_step(db, e->app->master_key, PQgetvalue(ids, r, 0), &notified) !=
                GF_OK) {
                atomic_fetch_add(&e->errors, 1);
            }
            if (notified > 0) {
                gf_log_debug("rollout step", "rollout=%s notified=%ld ms=%lld",
                             PQgetvalue(ids, r, 0), notified,
                             (long long)(gf_time_mono_us() - t0) / 1000);
            }
            atomic_fetch_add(&e->steps, 1);
            total += notified;
            more |= notified >= GF_ROLLOUT_NOTIFY_BATCH;
        }
    } else {
        atomic_fetch_add(&e->errors, 1);
    }
    PQclear(ids);
    gf_db_release(e->app->db, db);
    if (total > 0) {
        atomic_fetch_add(&e->notified, (unsigned long long)total);
        gf_fleet_kick(e->app->fleet); /* publish the new desired states now */
    }
    return more;
}

static void *engine_main(void *arg)
{
    struct gf_rollout_engine *e = arg;

    while (!atomic_load(&e->stopping)) {
        if (!step_all(e)) {
            wait_for_work(e);
        }
    }
    listen_close(e);
    return NULL;
}

enum gf_err gf_rollout_engine_start(struct gf_app *app, struct gf_rollout_engine **out)
{
    struct gf_rollout_engine *e = gf_calloc(1, sizeof(*e));

    *out = NULL;
    if (e == NULL) {
        return GF_ERR_NOMEM;
    }
    e->app = app;
    if ((e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        gf_free(e);
        return GF_ERR_IO;
    }
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        close(e->efd);
        gf_free(e);
        return GF_ERR_IO;
    }
    *out = e;
    return GF_OK;
}

void gf_rollout_engine_kick(struct gf_rollout_engine *e)
{
    uint64_t one = 1;

    if (e != NULL && write(e->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        gf_log_warn("eventfd write failed", "errno=%d", errno);
    }
}

void gf_rollout_engine_stop(struct gf_rollout_engine *e)
{
    if (e == NULL) {
        return;
    }
    atomic_store(&e->stopping, 1);
    gf_rollout_engine_kick(e);
    pthread_join(e->thread, NULL);
    close(e->efd);
    gf_free(e);
}

enum gf_err gf_rollout_engine_metrics(struct gf_rollout_engine *e, struct gf_buf *out)
{
    if (e == NULL) {
        return GF_OK;
    }
    return gf_buf_printf(
        out,
        "# HELP gf_rollout_steps_total Rollout engine steps (one rollout, one transaction).\n"
        "# TYPE gf_rollout_steps_total counter\ngf_rollout_steps_total %llu\n"
        "# HELP gf_rollout_notified_total Rollout targets notified by this replica.\n"
        "# TYPE gf_rollout_notified_total counter\ngf_rollout_notified_total %llu\n"
        "# HELP gf_rollout_wakeups_total NOTIFY gf_rollout wake-ups received.\n"
        "# TYPE gf_rollout_wakeups_total counter\ngf_rollout_wakeups_total %llu\n"
        "# HELP gf_rollout_step_errors_total Rollout steps that failed (retried next time).\n"
        "# TYPE gf_rollout_step_errors_total counter\ngf_rollout_step_errors_total %llu\n",
        (unsigned long long)atomic_load(&e->steps), (unsigned long long)atomic_load(&e->notified),
        (unsigned long long)atomic_load(&e->wakeups), (unsigned long long)atomic_load(&e->errors));
}
