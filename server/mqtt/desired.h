/* SPDX-License-Identifier: Apache-2.0
 *
 * desired.h - the desired-state outbox: publishing the retained `desired` message of every
 * node whose assignment changed (node_bundles rows with gen > published_gen), batch after
 * batch, on the fleet thread. See docs/internals/bundles.md, "Assignment and the desired
 * outbox".
 */
#ifndef GF_SERVER_MQTT_DESIRED_H
#define GF_SERVER_MQTT_DESIRED_H

#include "conn.h"
#include "err.h"

struct gf_dbconn;

#define GF_DESIRED_BATCH_MAX 2000 /* messages per batch (one transaction), at most */
#define GF_DESIRED_SESSIONS_MAX 8 /* sessions one cluster publishes on, at most */

/* The outbox of one fleet thread: its batch and its counters. Opaque. */
struct gf_desired;

/* batch: messages per batch, 1..GF_DESIRED_BATCH_MAX (configuration key desired_batch). */
enum gf_err gf_desired_new(int batch, struct gf_desired **out);
void gf_desired_free(struct gf_desired *d);

/* Publish what is due for cluster_id on db, batch after batch while they are full (at most
 * `rounds`), on sessions[0..nsess-1] (a node always on the same one, by a hash of its id;
 * none NULL). Returns how many messages were due in all. */
long gf_desired_publish(struct gf_desired *d, struct gf_dbconn *db, const char *cluster_id,
                        struct gf_mconn *const *sessions, unsigned nsess, int rounds);

/* 1 while the outbox works through a backlog: its last batch was full (more messages were
 * due) and was taken less than a second ago. Read from any thread; the ingest gives way
 * meanwhile (fleet.c). */
int gf_desired_backlog(struct gf_desired *d);

/* Counters since the start (read from any thread). */
struct gf_desired_stats {
    unsigned long long published; /* messages the broker acknowledged */
    unsigned long long batches;   /* batches taken */
};
void gf_desired_stats(struct gf_desired *d, struct gf_desired_stats *out);

#endif
