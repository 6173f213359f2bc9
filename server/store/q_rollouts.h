/* SPDX-License-Identifier: Apache-2.0
 *
 * q_rollouts.h - statements for rollouts and their targets: creation and the target
 * snapshot, the engine's steps (lock, timeouts, retries, counts, notify, cancel), the REST
 * reads, and the set-based bundle/status of the ingest that moves targets along.
 */
#ifndef GF_SERVER_Q_ROLLOUTS_H
#define GF_SERVER_Q_ROLLOUTS_H

#include "db.h"

/* $1 project, $2 bundle, $3 name, $4 state, $5 spec, $6 wave count, $7 start_at, $8 by -> id */
extern const struct gf_stmt gf_q_rollout_insert;
/* $1 id -> json */
extern const struct gf_stmt gf_q_rollout_get;
/* $1 project, $2 state filter, $3 cursor us, $4 cursor id, $5 fetch -> json, cursor */
extern const struct gf_stmt gf_q_rollout_list;
/* $1 project, $2 uuid[] -> ids that are not nodes of the project (at most 5) */
extern const struct gf_stmt gf_q_rollout_ids_unknown;
/* Candidates ($1 rollout, $2 project, $3 selector jsonb, $4 uuid[], $5 bundle): */
extern const struct gf_stmt gf_q_rollout_conflicts; /* -> node, holding rollout */
/* ... $6 bigint[] wave nodes, $7 float8[] wave percents, $8 first wave -> inserted holding,
 * fitting candidates */
extern const struct gf_stmt gf_q_rollout_snapshot;

/* engine */
extern const struct gf_stmt gf_q_rollout_active; /* -> ids */
/* $1 -> id, project, tenant, bundle, state, pause reason, spec, wave count, current wave,
 * start due, templated, manifest sha, version, name, continuous look due */
extern const struct gf_stmt gf_q_rollout_lock;
/* the same, waiting for the row instead of passing over it (operators' actions) */
extern const struct gf_stmt gf_q_rollout_lock_wait;
/* $1 id, $2 state, $3 pause reason, $4 reason, $5 current wave */
extern const struct gf_stmt gf_q_rollout_set;
/* $1 id, $2 continuous look done (bool) */
extern const struct gf_stmt gf_q_rollout_touch;
/* $1 id, $2 timeout retries, $3 offline -> skipped, $4 backoff s -> node, new state */
extern const struct gf_stmt gf_q_rollout_timeouts;
/* $1 id, $2 failed retries, $3 rolled-back retries, $4 backoff s -> nodes */
extern const struct gf_stmt gf_q_rollout_retries;
/* $1 id -> wave, state, count */
extern const struct gf_stmt gf_q_rollout_counts;
/* $1 id -> notified last minute, notifications in all, finished last 5 min */
extern const struct gf_stmt gf_q_rollout_rate;
/* $1 id, $2 max wave, $3 limit, $4 bundle, $5 envelope, $6 sha, $7 version, $8 timeout s */
extern const struct gf_stmt gf_q_rollout_notify;
/* templated bundles: $1 id, $2 max wave, $3 limit -> node, labels (locks the targets) */
extern const struct gf_stmt gf_q_rollout_pick;
/* $1 id, $2 bundle, $3 version, $4 timeout s, $5 [{n, env, sha}] -> nodes notified */
extern const struct gf_stmt gf_q_rollout_notify_each;
/* $1 id, $2 [{n, e}]: pending targets failed with error e (no instance) */
extern const struct gf_stmt gf_q_rollout_render_failed;
/* $1 id, $2 error */
extern const struct gf_stmt gf_q_rollout_cancel_pending;
/* $1 id, $2 bundle */
extern const struct gf_stmt gf_q_rollout_restore;

/* REST */
extern const struct gf_stmt gf_q_rollout_waves; /* $1 id -> json array */
/* $1 id, $2 state, $3 wave, $4 error text, $5 after node, $6 fetch -> json, node */
extern const struct gf_stmt gf_q_rollout_targets;

/* $1 id, $2 kind, $3 detail jsonb or NULL, $4 by the system (bool) */
extern const struct gf_stmt gf_q_rollout_event;

/* $1 name -> bool */
extern const struct gf_stmt gf_q_timezone_known;
/* $1 time zone -> "YYYY MM DD HH24 MI" local wall-clock time now */
extern const struct gf_stmt gf_q_local_time;

/* ingest: $1 [{n, bundle, version, sha, state, reason, gen, o}] */
extern const struct gf_stmt gf_q_bundle_status_batch;

#endif
