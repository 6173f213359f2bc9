/* SPDX-License-Identifier: Apache-2.0
 *
 * listen.c - the LISTEN thread (see listen.h). It waits in poll() on the connection's
 * socket and on an eventfd (stop); a broken connection is closed at once and reopened after
 * the backoff. Connection parameters on top of the pool's conninfo: application_name (to
 * find it in pg_stat_activity), connect_timeout 5 s and statement_timeout 10 s (so a stop
 * never waits long on a dead database).
 */
#define GF_LOG_MODULE "listen"
#include "listen.h"

#include "alloc.h"
#include "log.h"
#include "timefmt.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_CHANNELS 8
#define BACKOFF_MIN_US 250000
#define BACKOFF_MAX_US 15000000

struct gf_listener {
    char *conninfo;
    struct gf_listen_handler h[MAX_CHANNELS];
    int nh;
    struct {
        void (*fn)(void *arg, PGconn *c);
        void *arg;
    } ticks[MAX_CHANNELS];
    int nticks;
    pthread_t thread;
    int started;
    int efd;
    atomic_int stopping;
    PGconn *c;
    int64_t retry_at_us, backoff_us, tick_at_us;
    atomic_int is_connected;
    atomic_ullong connects, failures, notifications;
};

enum gf_err gf_listener_new(const char *conninfo, struct gf_listener **out)
{
    struct gf_listener *l = gf_calloc(1, sizeof(*l));

    if (l == NULL || (l->conninfo = gf_strdup(conninfo)) == NULL) {
        gf_free(l);
        return GF_ERR_NOMEM;
    }
    if ((l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        gf_free(l->conninfo);
        gf_free(l);
        return GF_ERR_IO;
    }
    l->backoff_us = BACKOFF_MIN_US;
    *out = l;
    return GF_OK;
}

static int plain_identifier(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9'))) {
            return 0;
        }
    }
    return 1;
}

enum gf_err gf_listener_add(struct gf_listener *l, const struct gf_listen_handler *h)
{
    if (l->nh >= MAX_CHANNELS) {
        return GF_ERR_TOOBIG;
    }
    if (h->channel == NULL || !plain_identifier(h->channel)) {
        return GF_ERR_INVAL;
    }
    l->h[l->nh++] = *h;
    return GF_OK;
}

enum gf_err gf_listener_add_tick(struct gf_listener *l, void (*fn)(void *arg, PGconn *c), void *arg)
{
    if (l->nticks >= MAX_CHANNELS) {
        return GF_ERR_TOOBIG;
    }
    l->ticks[l->nticks].fn = fn;
    l->ticks[l->nticks++].arg = arg;
    return GF_OK;
}

static void drop(struct gf_listener *l, const char *why)
{
    if (l->c == NULL) {
        return;
    }
    gf_log_warn("listen connection lost; reconnecting", "reason=%s error=\"%.200s\"", why,
                PQerrorMessage(l->c));
    PQfinish(l->c);
    l->c = NULL;
    atomic_store(&l->is_connected, 0);
    l->retry_at_us = gf_time_mono_us() + l->backoff_us;
}

static int listen_all(struct gf_listener *l)
{
    char sql[96];

    for (int i = 0; i < l->nh; i++) {
        snprintf(sql, sizeof(sql), "LISTEN %s", l->h[i].channel);
        PGresult *r = PQexec(l->c, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            return -1;
        }
    }
    return 0;
}

static void connect_now(struct gf_listener *l)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {l->conninfo, "gatefleet-listen", "5", "-c statement_timeout=10000", NULL};

    l->c = PQconnectdbParams(keys, vals, 1);
    if (l->c == NULL || PQstatus(l->c) != CONNECTION_OK || listen_all(l) != 0) {
        atomic_fetch_add(&l->failures, 1);
        if (l->c != NULL) {
            gf_log_warn("cannot listen", "error=\"%.200s\" retry_ms=%lld", PQerrorMessage(l->c),
                        (long long)(l->backoff_us / 1000));
            PQfinish(l->c);
            l->c = NULL;
        }
        l->retry_at_us = gf_time_mono_us() + l->backoff_us;
        l->backoff_us = l->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : l->backoff_us * 2;
        return;
    }
    atomic_fetch_add(&l->connects, 1);
    atomic_store(&l->is_connected, 1);
    l->backoff_us = BACKOFF_MIN_US;
    gf_log_info("listening", "channels=%d", l->nh);
    for (int i = 0; i < l->nh && l->c != NULL; i++) {
        if (l->h[i].connected != NULL) {
            l->h[i].connected(l->h[i].arg, l->c);
        }
        if (PQstatus(l->c) != CONNECTION_OK) {
            drop(l, "catch-up");
        }
    }
}

static void dispatch(struct gf_listener *l)
{
    PGnotify *n;

    while (l->c != NULL && (n = PQnotifies(l->c)) != NULL) {
        atomic_fetch_add(&l->notifications, 1);
        for (int i = 0; i < l->nh; i++) {
            if (strcmp(n->relname, l->h[i].channel) == 0) {
                l->h[i].notify(l->h[i].arg, l->c, n->extra);
                break;
            }
        }
        PQfreemem(n);
        if (PQstatus(l->c) != CONNECTION_OK) {
            drop(l, "query");
        }
    }
}

/* The handlers' ticks, once a second. */
static void tick(struct gf_listener *l)
{
    int64_t now = gf_time_mono_us();

    if (now < l->tick_at_us) {
        return;
    }
    l->tick_at_us = now + 1000000;
    for (int i = 0; i < l->nticks && l->c != NULL; i++) {
        l->ticks[i].fn(l->ticks[i].arg, l->c);
        if (PQstatus(l->c) != CONNECTION_OK) {
            drop(l, "tick");
        }
    }
}

static void *listen_main(void *arg)
{
    struct gf_listener *l = arg;
    uint64_t v;

    while (!atomic_load(&l->stopping)) {
        int64_t now = gf_time_mono_us();
        if (l->c == NULL && now >= l->retry_at_us) {
            connect_now(l);
            dispatch(l); /* what arrived during the catch-up */
            continue;
        }
        struct pollfd pfd[2] = {{l->efd, POLLIN, 0}, {l->c ? PQsocket(l->c) : -1, POLLIN, 0}};
        int wait_ms = l->c ? 1000 : (int)((l->retry_at_us - now) / 1000) + 1;
        int rc = poll(pfd, 2, wait_ms);
        if (rc > 0 && (pfd[0].revents & POLLIN) && read(l->efd, &v, sizeof(v)) < 0 &&
            errno != EAGAIN) {
            gf_log_warn("eventfd read failed", "errno=%d", errno);
        }
        if (l->c != NULL && rc > 0 && pfd[1].revents != 0) {
            if (!PQconsumeInput(l->c)) {
                drop(l, "read");
                continue;
            }
            dispatch(l);
            if (l->c != NULL && PQstatus(l->c) != CONNECTION_OK) {
                drop(l, "closed");
            }
        }
        if (l->c != NULL) {
            tick(l);
        }
    }
    if (l->c != NULL) {
        PQfinish(l->c);
        l->c = NULL;
    }
    return NULL;
}

enum gf_err gf_listener_start(struct gf_listener *l)
{
    if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
        return GF_ERR_IO;
    }
    l->started = 1;
    return GF_OK;
}

void gf_listener_stop(struct gf_listener *l)
{
    uint64_t one = 1;

    if (l == NULL) {
        return;
    }
    if (l->started) {
        atomic_store(&l->stopping, 1);
        if (write(l->efd, &one, sizeof(one)) < 0) {
            gf_log_warn("eventfd write failed", "errno=%d", errno);
        }
        pthread_join(l->thread, NULL);
    }
    close(l->efd);
    gf_free(l->conninfo);
    gf_free(l);
}

void gf_listener_stats(struct gf_listener *l, struct gf_listen_stats *out)
{
    out->connected = atomic_load(&l->is_connected);
    out->connects = atomic_load(&l->connects);
    out->failures = atomic_load(&l->failures);
    out->notifications = atomic_load(&l->notifications);
}
