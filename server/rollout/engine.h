/* SPDX-License-Identifier: Apache-2.0
 *
 * engine.h - the rollout engine: one thread per server replica that steps every active
 * rollout (step.c) when woken and at least every rollout_interval_ms. It is woken by
 * NOTIFY gf_rollout (a bundle status moved a target, on any replica; an operator acted)
 * through its own LISTEN connection, and by gf_rollout_engine_kick in this process. After a
 * step notified nodes it kicks the fleet thread, which publishes their `desired` messages
 * from the outbox at once. Replicas share nothing but PostgreSQL: a step locks its rollout
 * with SKIP LOCKED, so each transition happens once. Thread-safe.
 */
#ifndef GF_SERVER_ROLLOUT_ENGINE_H
#define GF_SERVER_ROLLOUT_ENGINE_H

#include "buf.h"
#include "err.h"

#define GF_ROLLOUT_NOTIFY_BATCH                                                                    \
    2000 /* targets notified by one step at most: the outbox                                       \
          * publishes them while the next step notifies more */

struct gf_app;
struct gf_dbconn;
struct gf_rollout_engine;

enum gf_err gf_rollout_engine_start(struct gf_app *app, struct gf_rollout_engine **out);

/* Stop and free; NULL is a no-op. */
void gf_rollout_engine_stop(struct gf_rollout_engine *e);

/* Step the rollouts now (after an operator's action). NULL is a no-op. */
void gf_rollout_engine_kick(struct gf_rollout_engine *e);

/* One step of one rollout, in its own transaction on db (step.c); master opens the
 * project's signing key for nodes' instances of a templated bundle. *notified receives the
 * number of targets notified. */
enum gf_err gf_rollout_step(struct gf_dbconn *db, const unsigned char master[32], const char *id,
                            long *notified);

/* Prometheus text of the engine's counters. */
enum gf_err gf_rollout_engine_metrics(struct gf_rollout_engine *e, struct gf_buf *out);

#endif
