/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet.h - the server's MQTT side and fleet housekeeping, one thread per server:
 *   - keeps one ingest session (shared subscription) and one admin session per registered
 *     broker cluster, following creations and deletions within fleet_interval_ms;
 *   - provisions and removes broker accounts (broker_accounts, through broker.h);
 *   - marks nodes offline that fell silent without a Will (the overdue detector);
 *   - creates the daily health partitions ahead and drops the expired ones.
 * Replicas share the work through PostgreSQL only (SKIP LOCKED rows, advisory locks).
 * Thread-safe.
 */
#ifndef GF_SERVER_MQTT_FLEET_H
#define GF_SERVER_MQTT_FLEET_H

#include "buf.h"
#include "err.h"

struct gf_app;
struct gf_fleet;

/* Start the thread and the ingest writers. GF_ERR_NOMEM, GF_ERR_IO. */
enum gf_err gf_fleet_start(struct gf_app *app, struct gf_fleet **out);

/* Stop: close MQTT sessions, drain the ingest queue, join. NULL is a no-op. */
void gf_fleet_stop(struct gf_fleet *f);

/* Prometheus text of the fleet and ingest counters. */
/* Run the fleet loop now (new desired states to publish). NULL is a no-op. Thread-safe. */
void gf_fleet_kick(struct gf_fleet *f);

enum gf_err gf_fleet_metrics(struct gf_fleet *f, struct gf_buf *out);

#endif
