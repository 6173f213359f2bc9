/* SPDX-License-Identifier: Apache-2.0
 *
 * handlers.h - every route handler, one resource per file (h_<resource>.c). Handlers run
 * after the dispatcher enforced authentication, CSRF, scope and role (router.h); mutating
 * ones run inside the route's transaction.
 */
#ifndef GF_SERVER_HANDLERS_H
#define GF_SERVER_HANDLERS_H

#include "../req.h"

#include <libpq-fe.h>

/* h_ops.c */
enum gf_err gf_h_healthz(struct gf_req *r);
enum gf_err gf_h_readyz(struct gf_req *r);
enum gf_err gf_h_metrics(struct gf_req *r);
enum gf_err gf_h_openapi(struct gf_req *r);

/* h_auth.c */
enum gf_err gf_h_login(struct gf_req *r);
enum gf_err gf_h_logout(struct gf_req *r);
enum gf_err gf_h_me(struct gf_req *r);

/* h_users.c */
enum gf_err gf_h_users_list(struct gf_req *r);
enum gf_err gf_h_users_create(struct gf_req *r);
enum gf_err gf_h_users_get(struct gf_req *r);
enum gf_err gf_h_users_update(struct gf_req *r);
enum gf_err gf_h_users_delete(struct gf_req *r);

/* h_tokens.c */
enum gf_err gf_h_tokens_list(struct gf_req *r);
enum gf_err gf_h_tokens_create(struct gf_req *r);
enum gf_err gf_h_tokens_delete(struct gf_req *r);

/* h_tenants.c */
enum gf_err gf_h_tenants_list(struct gf_req *r);
enum gf_err gf_h_tenants_create(struct gf_req *r);
enum gf_err gf_h_tenants_get(struct gf_req *r);
enum gf_err gf_h_tenants_update(struct gf_req *r);
enum gf_err gf_h_tenants_delete(struct gf_req *r);

/* h_members.c */
enum gf_err gf_h_members_list(struct gf_req *r);
enum gf_err gf_h_members_add(struct gf_req *r);
enum gf_err gf_h_members_update(struct gf_req *r);
enum gf_err gf_h_members_remove(struct gf_req *r);

/* h_projects.c */
enum gf_err gf_h_projects_list(struct gf_req *r);
enum gf_err gf_h_projects_create(struct gf_req *r);
enum gf_err gf_h_projects_get(struct gf_req *r);
enum gf_err gf_h_projects_update(struct gf_req *r);
enum gf_err gf_h_projects_delete(struct gf_req *r);

/* h_audit.c */
enum gf_err gf_h_audit_list(struct gf_req *r);

/* h_etokens.c */
enum gf_err gf_h_etokens_list(struct gf_req *r);
enum gf_err gf_h_etokens_create(struct gf_req *r);
enum gf_err gf_h_etokens_delete(struct gf_req *r);

/* h_enroll.c (agents) */
enum gf_err gf_h_enroll(struct gf_req *r);
enum gf_err gf_h_enroll_poll(struct gf_req *r);

/* h_nodes.c */
enum gf_err gf_h_nodes_list(struct gf_req *r);
enum gf_err gf_h_nodes_preauth(struct gf_req *r);
enum gf_err gf_h_nodes_get(struct gf_req *r);
enum gf_err gf_h_nodes_update(struct gf_req *r);
enum gf_err gf_h_nodes_delete(struct gf_req *r);
enum gf_err gf_h_nodes_accept(struct gf_req *r);
enum gf_err gf_h_nodes_reject(struct gf_req *r);
enum gf_err gf_h_nodes_presence(struct gf_req *r);
/* Want the node's broker account in cluster (NULL: none yet, nothing to do). Used by
 * admission and enrollment; inside the route's transaction. */
struct gf_dbconn;
enum gf_err gf_h_want_account(struct gf_req *r, struct gf_dbconn *db, const char *cluster,
                              const char *node_id, const char *cred_gen);

/* h_health.c */
enum gf_err gf_h_health_series(struct gf_req *r);
enum gf_err gf_h_health_summary(struct gf_req *r);

/* h_clusters.c */
enum gf_err gf_h_clusters_list(struct gf_req *r);
enum gf_err gf_h_clusters_create(struct gf_req *r);
enum gf_err gf_h_clusters_get(struct gf_req *r);
enum gf_err gf_h_clusters_delete(struct gf_req *r);

/* h_signkeys.c */
enum gf_err gf_h_signkeys_list(struct gf_req *r);
enum gf_err gf_h_signkeys_create(struct gf_req *r);
enum gf_err gf_h_signkeys_retire(struct gf_req *r);
enum gf_err gf_h_trust_get(struct gf_req *r);
enum gf_err gf_h_trust_sign(struct gf_req *r);

/* h_bundles.c */
enum gf_err gf_h_bundles_list(struct gf_req *r);
enum gf_err gf_h_bundles_create(struct gf_req *r);
enum gf_err gf_h_bundles_get(struct gf_req *r);
enum gf_err gf_h_bundles_manifest(struct gf_req *r);
enum gf_err gf_h_bundles_sign(struct gf_req *r);
/* Store a blob (deduplicated by hash), inside the caller's transaction. */
enum gf_err gf_h_blob_put(struct gf_dbconn *db, const char *sha, const void *data, size_t len);

/* h_desired.c */
enum gf_err gf_h_desired_get(struct gf_req *r);
enum gf_err gf_h_desired_put(struct gf_req *r);

/* h_commands.c */
/* The node can be reached now: it exists (else 404), is accepted and has a broker cluster
 * (else 409; what completes "the node is pending: <what> accepted nodes only"). */
enum gf_err gf_h_node_reachable(struct gf_req *r, struct gf_dbconn *db, const char *node,
                                const char *what);
enum gf_err gf_h_commands_create(struct gf_req *r);
enum gf_err gf_h_commands_batch(struct gf_req *r);
enum gf_err gf_h_commands_get(struct gf_req *r);
enum gf_err gf_h_commands_list(struct gf_req *r);
enum gf_err gf_h_batches_get(struct gf_req *r);
enum gf_err gf_h_batches_commands(struct gf_req *r);

/* h_logstreams.c */
enum gf_err gf_h_logstreams_create(struct gf_req *r);
enum gf_err gf_h_logstreams_get(struct gf_req *r);
enum gf_err gf_h_logstreams_delete(struct gf_req *r);
enum gf_err gf_h_logstreams_events(struct gf_req *r);

/* h_events.c (Server-Sent Events) */
enum gf_err gf_h_events(struct gf_req *r);

/* h_rollouts.c */
enum gf_err gf_h_rollouts_list(struct gf_req *r);
enum gf_err gf_h_rollouts_create(struct gf_req *r);
enum gf_err gf_h_rollouts_get(struct gf_req *r);
enum gf_err gf_h_rollouts_targets(struct gf_req *r);
enum gf_err gf_h_rollouts_act(struct gf_req *r); /* start | pause | resume | cancel */
enum gf_err gf_h_drift_list(struct gf_req *r);

/* h_agent.c (node-signed) */
enum gf_err gf_h_agent_manifest(struct gf_req *r);
enum gf_err gf_h_agent_blob(struct gf_req *r);
enum gf_err gf_h_agent_trust(struct gf_req *r);

#endif
