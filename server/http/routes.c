/* SPDX-License-Identifier: Apache-2.0
 *
 * routes.c - THE router table. Adding a route here is the only way to serve one; the
 * dispatcher enforces the auth, scope and role written on its row, the OpenAPI test checks
 * it is documented, and the tenant-isolation test walks it with another tenant's ids.
 */
#include "router.h"

#include "handlers/handlers.h"

#define V1 "/api/v1"

const struct gf_route gf_routes[] = {
    /* operations */
    {GF_GET, "/healthz", gf_h_healthz, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL, NULL, 0},
    {GF_GET, "/readyz", gf_h_readyz, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL, NULL, 0},
    {GF_GET, "/metrics", gf_h_metrics, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/openapi.json", gf_h_openapi, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL,
     NULL, 0},

    /* session */
    {GF_POST, V1 "/auth/login", gf_h_login, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, "auth.login",
     "user", NULL, GF_RF_SELF_TX},
    {GF_POST, V1 "/auth/logout", gf_h_logout, GF_RA_SESSION, GF_SCOPE_NONE, GF_ROLE_NONE,
     "auth.logout", "user", NULL, 0},
    {GF_GET, V1 "/auth/me", gf_h_me, GF_RA_ANY, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL, NULL, 0},

    /* users (server admins) */
    {GF_GET, V1 "/users", gf_h_users_list, GF_RA_ADMIN, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL,
     NULL, 0},
    {GF_POST, V1 "/users", gf_h_users_create, GF_RA_ADMIN, GF_SCOPE_NONE, GF_ROLE_NONE,
     "user.create", "user", NULL, 0},
    {GF_GET, V1 "/users/{user_id}", gf_h_users_get, GF_RA_ADMIN, GF_SCOPE_NONE, GF_ROLE_NONE, NULL,
     NULL, NULL, 0},
    {GF_PATCH, V1 "/users/{user_id}", gf_h_users_update, GF_RA_ADMIN, GF_SCOPE_NONE, GF_ROLE_NONE,
     "user.update", "user", "user_id", 0},
    {GF_DELETE, V1 "/users/{user_id}", gf_h_users_delete, GF_RA_ADMIN, GF_SCOPE_NONE, GF_ROLE_NONE,
     "user.delete", "user", "user_id", 0},

    /* API tokens (own tokens, interactive session) */
    {GF_GET, V1 "/tokens", gf_h_tokens_list, GF_RA_SESSION, GF_SCOPE_NONE, GF_ROLE_NONE, NULL,
     NULL, NULL, 0},
    {GF_POST, V1 "/tokens", gf_h_tokens_create, GF_RA_SESSION, GF_SCOPE_NONE, GF_ROLE_NONE,
     "token.create", "token", NULL, 0},
    {GF_DELETE, V1 "/tokens/{token_id}", gf_h_tokens_delete, GF_RA_SESSION, GF_SCOPE_NONE,
     GF_ROLE_NONE, "token.revoke", "token", "token_id", 0},

    /* tenants */
    {GF_GET, V1 "/tenants", gf_h_tenants_list, GF_RA_ANY, GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL,
     NULL, 0},
    {GF_POST, V1 "/tenants", gf_h_tenants_create, GF_RA_ADMIN, GF_SCOPE_NONE, GF_ROLE_NONE,
     "tenant.create", "tenant", NULL, 0},
    {GF_GET, V1 "/tenants/{tenant_id}", gf_h_tenants_get, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_PATCH, V1 "/tenants/{tenant_id}", gf_h_tenants_update, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_ADMIN, "tenant.update", "tenant", "tenant_id", 0},
    {GF_DELETE, V1 "/tenants/{tenant_id}", gf_h_tenants_delete, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_OWNER, "tenant.delete", "tenant", "tenant_id", 0},

    /* members */
    {GF_GET, V1 "/tenants/{tenant_id}/members", gf_h_members_list, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/tenants/{tenant_id}/members", gf_h_members_add, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_ADMIN, "member.add", "membership", NULL, 0},
    {GF_PATCH, V1 "/tenants/{tenant_id}/members/{user_id}", gf_h_members_update, GF_RA_ANY,
     GF_SCOPE_TENANT, GF_ROLE_ADMIN, "member.update", "membership", "user_id", 0},
    {GF_DELETE, V1 "/tenants/{tenant_id}/members/{user_id}", gf_h_members_remove, GF_RA_ANY,
     GF_SCOPE_TENANT, GF_ROLE_ADMIN, "member.remove", "membership", "user_id", 0},

    /* projects */
    {GF_GET, V1 "/tenants/{tenant_id}/projects", gf_h_projects_list, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/tenants/{tenant_id}/projects", gf_h_projects_create, GF_RA_ANY,
     GF_SCOPE_TENANT, GF_ROLE_ADMIN, "project.create", "project", NULL, 0},
    {GF_GET, V1 "/projects/{project_id}", gf_h_projects_get, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_PATCH, V1 "/projects/{project_id}", gf_h_projects_update, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_ADMIN, "project.update", "project", "project_id", 0},
    {GF_DELETE, V1 "/projects/{project_id}", gf_h_projects_delete, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_ADMIN, "project.delete", "project", "project_id", 0},

    /* broker clusters */
    {GF_GET, V1 "/projects/{project_id}/clusters", gf_h_clusters_list, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/clusters", gf_h_clusters_create, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_ADMIN, "cluster.create", "cluster", NULL, 0},
    {GF_GET, V1 "/clusters/{cluster_id}", gf_h_clusters_get, GF_RA_ANY, GF_SCOPE_CLUSTER,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_DELETE, V1 "/clusters/{cluster_id}", gf_h_clusters_delete, GF_RA_ANY, GF_SCOPE_CLUSTER,
     GF_ROLE_ADMIN, "cluster.delete", "cluster", "cluster_id", 0},

    /* enrollment tokens */
    {GF_GET, V1 "/projects/{project_id}/enrollment-tokens", gf_h_etokens_list, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_ADMIN, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/enrollment-tokens", gf_h_etokens_create, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_ADMIN, "enrollment_token.create", "enrollment_token", NULL, 0},
    {GF_DELETE, V1 "/enrollment-tokens/{enrollment_token_id}", gf_h_etokens_delete, GF_RA_ANY,
     GF_SCOPE_ENROLL_TOKEN, GF_ROLE_ADMIN, "enrollment_token.revoke", "enrollment_token",
     "enrollment_token_id", 0},

    /* enrollment (agents: token in the body, then node-signed polls) */
    {GF_POST, V1 "/enroll", gf_h_enroll, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, "node.enroll",
     "node", NULL, 0},
    {GF_GET, V1 "/enroll/{node_id}", gf_h_enroll_poll, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE,
     NULL, NULL, NULL, GF_RF_NODE_SIGNED},

    /* nodes */
    {GF_GET, V1 "/projects/{project_id}/nodes", gf_h_nodes_list, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/nodes", gf_h_nodes_preauth, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_ADMIN, "node.preauthorize", "node", NULL, 0},
    {GF_GET, V1 "/nodes/{node_id}", gf_h_nodes_get, GF_RA_ANY, GF_SCOPE_NODE, GF_ROLE_VIEWER,
     NULL, NULL, NULL, 0},
    {GF_PATCH, V1 "/nodes/{node_id}", gf_h_nodes_update, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_OPERATOR, "node.update", "node", "node_id", 0},
    {GF_DELETE, V1 "/nodes/{node_id}", gf_h_nodes_delete, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_ADMIN, "node.delete", "node", "node_id", 0},
    {GF_POST, V1 "/nodes/{node_id}/accept", gf_h_nodes_accept, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_ADMIN, "node.accept", "node", "node_id", 0},
    {GF_POST, V1 "/nodes/{node_id}/reject", gf_h_nodes_reject, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_ADMIN, "node.reject", "node", "node_id", 0},
    {GF_GET, V1 "/nodes/{node_id}/presence", gf_h_nodes_presence, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},

    /* health */
    {GF_GET, V1 "/nodes/{node_id}/health", gf_h_health_series, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/projects/{project_id}/health/summary", gf_h_health_summary, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},

    /* signing keys and trust root */
    {GF_GET, V1 "/projects/{project_id}/signing-keys", gf_h_signkeys_list, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/signing-keys", gf_h_signkeys_create, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_ADMIN, "signing_key.create", "signing_key", NULL, 0},
    {GF_POST, V1 "/signing-keys/{signing_key_id}/retire", gf_h_signkeys_retire, GF_RA_ANY,
     GF_SCOPE_SIGNING_KEY, GF_ROLE_ADMIN, "signing_key.retire", "signing_key", "signing_key_id",
     0},
    {GF_GET, V1 "/projects/{project_id}/trust", gf_h_trust_get, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/trust/signature", gf_h_trust_sign, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_ADMIN, "trust.sign", "project", "project_id", 0},

    /* bundles */
    {GF_GET, V1 "/projects/{project_id}/bundles", gf_h_bundles_list, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/bundles", gf_h_bundles_create, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_OPERATOR, "bundle.publish", "bundle", NULL, GF_RF_BIG_BODY},
    {GF_GET, V1 "/bundles/{bundle_id}", gf_h_bundles_get, GF_RA_ANY, GF_SCOPE_BUNDLE,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/bundles/{bundle_id}/manifest", gf_h_bundles_manifest, GF_RA_ANY,
     GF_SCOPE_BUNDLE, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/bundles/{bundle_id}/signature", gf_h_bundles_sign, GF_RA_ANY, GF_SCOPE_BUNDLE,
     GF_ROLE_ADMIN, "bundle.sign", "bundle", "bundle_id", 0},

    /* desired state */
    {GF_GET, V1 "/nodes/{node_id}/bundle", gf_h_desired_get, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_PUT, V1 "/nodes/{node_id}/bundle", gf_h_desired_put, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_OPERATOR, "node.assign_bundle", "node", "node_id", 0},
    {GF_GET, V1 "/projects/{project_id}/drift", gf_h_drift_list, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},

    /* the project's live event feed (Server-Sent Events) */
    {GF_GET, V1 "/projects/{project_id}/events", gf_h_events, GF_RA_ANY, GF_SCOPE_PROJECT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},

    /* rollouts */
    {GF_GET, V1 "/projects/{project_id}/rollouts", gf_h_rollouts_list, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/rollouts", gf_h_rollouts_create, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_OPERATOR, "rollout.create", "rollout", NULL, 0},
    {GF_GET, V1 "/rollouts/{rollout_id}", gf_h_rollouts_get, GF_RA_ANY, GF_SCOPE_ROLLOUT,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/rollouts/{rollout_id}/targets", gf_h_rollouts_targets, GF_RA_ANY,
     GF_SCOPE_ROLLOUT, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/rollouts/{rollout_id}/start", gf_h_rollouts_act, GF_RA_ANY, GF_SCOPE_ROLLOUT,
     GF_ROLE_OPERATOR, "rollout.start", "rollout", "rollout_id", 0},
    {GF_POST, V1 "/rollouts/{rollout_id}/pause", gf_h_rollouts_act, GF_RA_ANY, GF_SCOPE_ROLLOUT,
     GF_ROLE_OPERATOR, "rollout.pause", "rollout", "rollout_id", 0},
    {GF_POST, V1 "/rollouts/{rollout_id}/resume", gf_h_rollouts_act, GF_RA_ANY,
     GF_SCOPE_ROLLOUT, GF_ROLE_OPERATOR, "rollout.resume", "rollout", "rollout_id", 0},
    {GF_POST, V1 "/rollouts/{rollout_id}/cancel", gf_h_rollouts_act, GF_RA_ANY,
     GF_SCOPE_ROLLOUT, GF_ROLE_OPERATOR, "rollout.cancel", "rollout", "rollout_id", 0},

    /* commands */
    {GF_POST, V1 "/nodes/{node_id}/commands", gf_h_commands_create, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_OPERATOR, "command.create", "command", NULL, 0},
    {GF_GET, V1 "/nodes/{node_id}/commands", gf_h_commands_list, GF_RA_ANY, GF_SCOPE_NODE,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_POST, V1 "/projects/{project_id}/commands", gf_h_commands_batch, GF_RA_ANY,
     GF_SCOPE_PROJECT, GF_ROLE_OPERATOR, "command_batch.create", "command_batch", NULL, 0},
    {GF_GET, V1 "/commands/{command_id}", gf_h_commands_get, GF_RA_ANY, GF_SCOPE_COMMAND,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/command-batches/{batch_id}", gf_h_batches_get, GF_RA_ANY,
     GF_SCOPE_COMMAND_BATCH, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/command-batches/{batch_id}/commands", gf_h_batches_commands, GF_RA_ANY,
     GF_SCOPE_COMMAND_BATCH, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},

    /* log streams */
    {GF_POST, V1 "/nodes/{node_id}/log-streams", gf_h_logstreams_create, GF_RA_ANY,
     GF_SCOPE_NODE, GF_ROLE_OPERATOR, "log_stream.create", "log_stream", NULL, 0},
    {GF_GET, V1 "/log-streams/{stream_id}", gf_h_logstreams_get, GF_RA_ANY, GF_SCOPE_LOG_STREAM,
     GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_GET, V1 "/log-streams/{stream_id}/events", gf_h_logstreams_events, GF_RA_ANY,
     GF_SCOPE_LOG_STREAM, GF_ROLE_VIEWER, NULL, NULL, NULL, 0},
    {GF_DELETE, V1 "/log-streams/{stream_id}", gf_h_logstreams_delete, GF_RA_ANY,
     GF_SCOPE_LOG_STREAM, GF_ROLE_OPERATOR, "log_stream.stop", "log_stream", "stream_id", 0},

    /* agents (node-signed downloads) */
    {GF_GET, V1 "/agent/bundles/{bundle_id}/manifest", gf_h_agent_manifest, GF_RA_NONE,
     GF_SCOPE_NONE, GF_ROLE_NONE, NULL, NULL, NULL, GF_RF_NODE_SIGNED},
    {GF_GET, V1 "/agent/blobs/{sha256}", gf_h_agent_blob, GF_RA_NONE, GF_SCOPE_NONE,
     GF_ROLE_NONE, NULL, NULL, NULL, GF_RF_NODE_SIGNED},
    {GF_GET, V1 "/agent/trust", gf_h_agent_trust, GF_RA_NONE, GF_SCOPE_NONE, GF_ROLE_NONE, NULL,
     NULL, NULL, GF_RF_NODE_SIGNED},

    /* audit */
    {GF_GET, V1 "/tenants/{tenant_id}/audit", gf_h_audit_list, GF_RA_ANY, GF_SCOPE_TENANT,
     GF_ROLE_ADMIN, NULL, NULL, NULL, 0},
};

const size_t gf_nroutes = sizeof(gf_routes) / sizeof(gf_routes[0]);
