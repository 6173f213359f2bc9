/* SPDX-License-Identifier: Apache-2.0
 *
 * ingest.h - the server's MQTT ingest: agent messages (state, birth, health) go into a
 * bounded in-memory queue from paho's receive thread, and writer threads turn them into
 * PostgreSQL transactions of many messages each. Only after COMMIT is the `ack` published
 * to each node (docs/mqtt.md), so an acknowledged record is always in the database; a
 * message that is lost before the commit is resent by its agent and de-duplicated here.
 * When the queue is full, a health message is dropped unacknowledged, for its agent to
 * send again (paho would otherwise keep it in unbounded memory); state, birth and bundle
 * status, small and not resent, are always queued. Malformed and oversize
 * messages are counted by reason and dropped. Thread-safe.
 */
#ifndef GF_SERVER_MQTT_INGEST_H
#define GF_SERVER_MQTT_INGEST_H

#include "buf.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gf_app;
struct gf_ingest;
struct gf_mconn;

/* Plain value struct. */
struct gf_ingest_opts {
    int writers;          /* writer threads, each with its own database connection */
    size_t queue_max;     /* messages held in memory */
    size_t queue_bytes;   /* payload bytes held in memory */
    size_t batch_max;     /* messages per transaction */
    int retention_days;   /* records older than this are acknowledged but not stored */
    /* Optional (NULL: never). While hold(hold_arg) returns 1 the writers give way: each
     * leaves its queue alone for up to GF_INGEST_HOLD_MS at a time, or until the queue is
     * half full. The fleet holds them while the desired outbox works through a backlog, so
     * a rollout's notifications are not slowed by the statuses they bring back. */
    int (*hold)(void *hold_arg);
    void *hold_arg;
};

#define GF_INGEST_HOLD_MS 2000

enum gf_err gf_ingest_start(struct gf_app *app, const struct gf_ingest_opts *opts,
                            struct gf_ingest **out);

/* Stop the writers after the queue is drained (at most 5 s) and free. NULL is a no-op. */
void gf_ingest_stop(struct gf_ingest *ing);

/* Queue one message received on conn (the connection its ack goes back on). Copies topic and
 * payload. Returns 1 when taken (queued, or dropped and counted: malformed, oversize, or a
 * health message while the queue is full), 0 when out of memory (paho
 * delivers it again later). */
int gf_ingest_push(struct gf_ingest *ing, struct gf_mconn *conn, const char *topic,
                   const void *payload, size_t len);

/* 1 when the ingest keeps up: queue below one batch and no database error in the last
 * 10 s. The overdue detector only runs then, so a backlog never reads as silence. */
int gf_ingest_healthy(struct gf_ingest *ing);

/* Prometheus text of the ingest counters. */
enum gf_err gf_ingest_metrics(struct gf_ingest *ing, struct gf_buf *out);

#endif
