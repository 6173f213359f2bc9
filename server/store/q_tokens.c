/* SPDX-License-Identifier: Apache-2.0
 *
 * q_tokens.c - SQL for API tokens and the audit listing (see q_tokens.h).
 */
#include "q_tokens.h"

#include "q_sql.h"

const struct gf_stmt gf_q_token_list = {
    "token_list",
    "SELECT " GF_SQL_TOKEN_JSON("t") ", " GF_SQL_CURSOR("t") " FROM api_tokens t"
    " WHERE t.user_id = $1 AND " GF_SQL_AFTER("t", "$2", "$3")
    " ORDER BY t.created_at, t.id LIMIT $4",
    4};

const struct gf_stmt gf_q_token_create = {
    "token_create",
    "INSERT INTO api_tokens AS t (user_id, tenant_id, name, prefix, secret_hash, role, expires_at)"
    " VALUES ($1, $2, $3, $4, $5, $6::tenant_role,"
    " coalesce($7::timestamptz, now() + make_interval(secs => $8::int)))"
    " RETURNING " GF_SQL_TOKEN_JSON("t") ", t.id",
    8};

const struct gf_stmt gf_q_token_revoke = {
    "token_revoke",
    "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
    " WHERE id = $1 AND (user_id = $2 OR $3::bool) RETURNING tenant_id",
    3};

const struct gf_stmt gf_q_membership_role = {
    "membership_role", "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2", 2};

const struct gf_stmt gf_q_audit_list = {
    "audit_list",
    "SELECT json_build_object('id', a.id, 'at', gf_ts(a.at), 'tenant_id', a.tenant_id,"
    " 'actor_type', a.actor_type, 'actor_id', a.actor_id, 'actor_label', a.actor_label,"
    " 'action', a.action, 'object_type', a.object_type, 'object_id', a.object_id,"
    " 'outcome', a.outcome, 'source', a.source, 'detail', a.detail)::text,"
    " ((extract(epoch from a.at) * 1000000)::bigint || '.' || a.id)"
    " FROM audit_events a WHERE a.tenant_id = $1"
    " AND ($2::uuid IS NULL OR a.actor_id = $2::uuid)"
    " AND ($3::text IS NULL OR a.action = $3 OR a.action LIKE replace(replace($3, '%', ''),"
    "      '_', '\\_') || '.%')"
    " AND ($4::text IS NULL OR a.object_type = $4)"
    " AND ($5::text IS NULL OR a.object_id = $5)"
    " AND ($6::text IS NULL OR a.outcome = $6)"
    " AND ($7::timestamptz IS NULL OR a.at >= $7::timestamptz)"
    " AND ($8::timestamptz IS NULL OR a.at < $8::timestamptz)"
    " AND ($9::bigint IS NULL OR (a.at, a.id) < ('epoch'::timestamptz + $9::bigint"
    "      * interval '1 microsecond', $10::uuid))"
    " ORDER BY a.at DESC, a.id DESC LIMIT $11",
    11};
