/* SPDX-License-Identifier: Apache-2.0
 *
 * app.h - the server's process-wide state, shared read-only by request threads once
 * start-up is done: configuration, the database pool, the metrics registry and the
 * master key. One per process.
 */
#ifndef GF_SERVER_APP_H
#define GF_SERVER_APP_H

#include "config.h"

struct gf_db;
struct gf_metrics;
struct gf_fleet;
struct gf_rollout_engine;
struct gf_event_bus;
struct gf_sse_hub;
struct gf_logviews;

struct gf_app {
    struct gf_server_config cfg;
    struct gf_db *db;
    struct gf_metrics *metrics;
    int tls;                         /* serving HTTPS: cookies get Secure */
    unsigned char master_key[32];
    struct gf_fleet *fleet;          /* MQTT side; NULL in subcommands */
    struct gf_rollout_engine *rollouts; /* rollout engine; NULL in subcommands */
    struct gf_event_bus *events;        /* project event feed; NULL in subcommands */
    struct gf_logviews *logviews;       /* log stream viewers; NULL in subcommands */
    struct gf_sse_hub *sse;             /* event streams (http/sse.h); set by gf_http_start */
};

#endif
