/* SPDX-License-Identifier: Apache-2.0
 *
 * listen.h - one thread with its own PostgreSQL connection doing LISTEN on a few channels
 * and handing each notification to the channel's handler.
 *
 * A pooled connection goes back to the pool between uses and would miss notifications, so
 * the listener keeps a dedicated one (application_name gatefleet-listen). When it breaks
 * (database restart, network, pg_terminate_backend) the listener reconnects with an
 * exponential backoff (0.25 s doubling to 15 s), LISTENs again, and calls every handler's
 * connected() so it can read from the tables what was committed while nobody listened.
 * Handlers run on the listener thread and may run queries on the connection they are given
 * (notifications arriving meanwhile are kept by libpq and handed over afterwards, in order).
 */
#ifndef GF_SERVER_EVENTS_LISTEN_H
#define GF_SERVER_EVENTS_LISTEN_H

#include "err.h"

#include <libpq-fe.h>

struct gf_listener;

/* What to do for one channel. Plain value struct (copied by gf_listener_add). */
struct gf_listen_handler {
    const char *channel; /* static string, a plain identifier */
    /* One notification; payload borrowed for the call. */
    void (*notify)(void *arg, PGconn *c, const char *payload);
    /* The connection was (re)established and LISTENs on every channel. May be NULL. */
    void (*connected)(void *arg, PGconn *c);
    void *arg;
};

/* Counters for /metrics. Plain value struct. */
struct gf_listen_stats {
    int connected;
    unsigned long long connects, failures, notifications;
};

/* New, stopped listener for conninfo (copied). Caller owns (gf_listener_stop).
 * GF_ERR_NOMEM, GF_ERR_IO (eventfd). */
enum gf_err gf_listener_new(const char *conninfo, struct gf_listener **out);

/* Add a channel before gf_listener_start. GF_ERR_TOOBIG past 8 channels, GF_ERR_INVAL when
 * the name is not a plain identifier. */
enum gf_err gf_listener_add(struct gf_listener *l, const struct gf_listen_handler *h);

/* Call fn(arg, c) about once a second while connected, on the listener thread (retries,
 * housekeeping), before gf_listener_start. GF_ERR_TOOBIG past 8. */
enum gf_err gf_listener_add_tick(struct gf_listener *l, void (*fn)(void *arg, PGconn *c),
                                 void *arg);

/* Start the thread (it connects by itself, retrying). GF_ERR_IO. */
enum gf_err gf_listener_start(struct gf_listener *l);

/* Stop the thread (if started), close the connection and free. NULL is a no-op. */
void gf_listener_stop(struct gf_listener *l);

void gf_listener_stats(struct gf_listener *l, struct gf_listen_stats *out);

#endif
