/* SPDX-License-Identifier: Apache-2.0
 *
 * q_clusters.h - statements for broker clusters and the broker accounts the server
 * provisions in them (h_clusters.c, mqtt/clusters.c).
 */
#ifndef GF_SERVER_Q_CLUSTERS_H
#define GF_SERVER_Q_CLUSTERS_H

#include "db.h"

/* $1 project, $2 name, $3 kind, $4 agent url, $5 server url, $6 admin user, $7 sealed admin
 * password (bytea hex text), $8 created by -> json, version, id */
extern const struct gf_stmt gf_q_cluster_create;
/* $1 project, $2 cursor us, $3 cursor id, $4 fetch */
extern const struct gf_stmt gf_q_cluster_list;
/* $1 id -> json, version */
extern const struct gf_stmt gf_q_cluster_get;
/* $1 id */
extern const struct gf_stmt gf_q_cluster_delete;
/* -> id, project, kind, coalesce(server url, agent url), admin user, sealed password, version
 * of every cluster (the MQTT side's view) */
extern const struct gf_stmt gf_q_cluster_all;
/* $1 cluster, $2 limit -> username, node, want, cred_gen (due accounts, locked, skipping rows
 * other replicas hold) */
extern const struct gf_stmt gf_q_account_due;
/* $1 cluster, $2 username: done (present) or gone (absent) */
extern const struct gf_stmt gf_q_account_done;
/* $1 cluster, $2 username, $3 error text: retry later with backoff */
extern const struct gf_stmt gf_q_account_failed;
/* $1 node: mark provisioned */
extern const struct gf_stmt gf_q_node_provisioned;

/* Replicas (mqtt/takeover.c, migration 0011). $1 replica: its heartbeat. */
extern const struct gf_stmt gf_q_replica_beat;
/* $1 replica, $2 stale after (s), $3 sessions expired after (s) -> id, expired: claims the
 * longest-silent other replica silent for $2 s (or claimed by a taker silent as long),
 * skipping rows another replica holds. */
extern const struct gf_stmt gf_q_replica_claim;
/* $1 replica, $2 taker: its sessions are drained (or expired) */
extern const struct gf_stmt gf_q_replica_forget;
/* $1 replica, $2 taker: not drained, the claim given back */
extern const struct gf_stmt gf_q_replica_release;
/* $1 taker: every claim it holds given back (at its start: an earlier run's claims) */
extern const struct gf_stmt gf_q_replica_release_mine;

#endif
