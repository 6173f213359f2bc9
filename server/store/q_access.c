/* SPDX-License-Identifier: Apache-2.0
 *
 * q_access.c - SQL of the access layer (see q_access.h).
 */
#include "q_access.h"

const struct gf_stmt gf_q_session_lookup = {
    "session_lookup",
    "SELECT s.id, u.id, u.email, u.is_admin FROM sessions s"
    " JOIN users u ON u.id = s.user_id"
    " WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
    1};

const struct gf_stmt gf_q_token_lookup = {
    "token_lookup",
    "SELECT t.id, u.id, u.email, t.tenant_id, t.role, t.prefix FROM api_tokens t"
    " JOIN users u ON u.id = t.user_id"
    " WHERE t.secret_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
    " AND NOT u.disabled",
    1};

const struct gf_stmt gf_q_token_touch = {
    "token_touch",
    "UPDATE api_tokens SET last_used_at = now() WHERE id = $1"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    1};

const struct gf_stmt gf_q_scope_tenant = {
    "scope_tenant",
    "SELECT t.id, m.role FROM tenants t"
    " LEFT JOIN memberships m ON m.tenant_id = t.id AND m.user_id = $2::uuid"
    " WHERE t.id = $1::uuid",
    2};

const struct gf_stmt gf_q_scope_project = {
    "scope_project",
    "SELECT p.tenant_id, m.role FROM projects p"
    " LEFT JOIN memberships m ON m.tenant_id = p.tenant_id AND m.user_id = $2::uuid"
    " WHERE p.id = $1::uuid",
    2};

#define SCOPE_VIA_PROJECT(name, table)                                                          \
    {name,                                                                                      \
     "SELECT p.tenant_id, m.role FROM " table " x JOIN projects p ON p.id = x.project_id"       \
     " LEFT JOIN memberships m ON m.tenant_id = p.tenant_id AND m.user_id = $2::uuid"           \
     " WHERE x.id = $1::uuid",                                                                  \
     2}

const struct gf_stmt gf_q_scope_node = SCOPE_VIA_PROJECT("scope_node", "nodes");
const struct gf_stmt gf_q_scope_cluster = SCOPE_VIA_PROJECT("scope_cluster", "broker_clusters");
const struct gf_stmt gf_q_scope_etoken = SCOPE_VIA_PROJECT("scope_etoken", "enrollment_tokens");
const struct gf_stmt gf_q_scope_bundle = SCOPE_VIA_PROJECT("scope_bundle", "bundles");
const struct gf_stmt gf_q_scope_signing_key = SCOPE_VIA_PROJECT("scope_signing_key",
                                                                "signing_keys");
const struct gf_stmt gf_q_scope_rollout = SCOPE_VIA_PROJECT("scope_rollout", "rollouts");
const struct gf_stmt gf_q_scope_command = SCOPE_VIA_PROJECT("scope_command", "commands");
const struct gf_stmt gf_q_scope_command_batch = SCOPE_VIA_PROJECT("scope_command_batch",
                                                                  "command_batches");
const struct gf_stmt gf_q_scope_log_stream = SCOPE_VIA_PROJECT("scope_log_stream",
                                                               "log_streams");

const struct gf_stmt gf_q_audit_insert = {
    "audit_insert",
    "INSERT INTO audit_events (tenant_id, actor_type, actor_id, actor_label, action,"
    " object_type, object_id, outcome, source, detail)"
    " VALUES ($1::uuid, $2, $3::uuid, $4, $5, $6, $7, $8, $9, coalesce($10::jsonb, '{}'))",
    10};

const struct gf_stmt gf_q_idem_expire = {
    "idem_expire",
    "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2"
    " AND created_at < now() - interval '24 hours'",
    2};

/* $1 login_window seconds -> rows deleted from sessions, idempotency_keys, login_failures:
 * sessions past their expiry, keys older than the 24 h they are kept, failure windows
 * that ended (hourly maintenance; each would otherwise only go when reused). */
const struct gf_stmt gf_q_bookkeeping_purge = {
    "bookkeeping_purge",
    "WITH s AS (DELETE FROM sessions WHERE expires_at < now() RETURNING 1),"
    " i AS (DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'"
    " RETURNING 1),"
    " l AS (DELETE FROM login_failures WHERE window_start < now() - make_interval(secs =>"
    " $1::int) RETURNING 1)"
    " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM i), (SELECT count(*) FROM l)",
    1};

const struct gf_stmt gf_q_idem_claim = {
    "idem_claim",
    "INSERT INTO idempotency_keys (actor, key, method, path, request_hash)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
    5};

const struct gf_stmt gf_q_idem_get = {
    "idem_get",
    "SELECT request_hash, status, content_type, response FROM idempotency_keys"
    " WHERE actor = $1 AND key = $2",
    2};

const struct gf_stmt gf_q_idem_store = {
    "idem_store",
    "UPDATE idempotency_keys SET status = $3::int, content_type = $4, response = $5"
    " WHERE actor = $1 AND key = $2",
    5};
