/* SPDX-License-Identifier: Apache-2.0
 *
 * q_enroll.c - SQL for enrollment tokens and agent enrollment (see q_enroll.h).
 */
#include "q_enroll.h"

#include "q_sql.h"

const struct gf_stmt gf_q_etoken_create = {
    "etoken_create",
    "INSERT INTO enrollment_tokens AS t (project_id, name, secret_hash, prefix, default_labels,"
    " auto_accept, max_uses, expires_at, created_by)"
    " VALUES ($1, coalesce($2, ''), $3, $4, coalesce($5::jsonb, '{}'), coalesce($6::bool, false),"
    " $7::int, $8::timestamptz, $9::uuid)"
    " RETURNING " GF_SQL_ENROLL_TOKEN_JSON("t") ", t.id",
    9};

const struct gf_stmt gf_q_etoken_list = {
    "etoken_list",
    "SELECT " GF_SQL_ENROLL_TOKEN_JSON("t") ", " GF_SQL_CURSOR("t") " FROM enrollment_tokens t"
    " WHERE t.project_id = $1 AND " GF_SQL_AFTER("t", "$2", "$3")
    " ORDER BY t.created_at, t.id LIMIT $4",
    4};

const struct gf_stmt gf_q_etoken_get = {
    "etoken_get",
    "SELECT " GF_SQL_ENROLL_TOKEN_JSON("t") " FROM enrollment_tokens t WHERE t.id = $1", 1};

const struct gf_stmt gf_q_etoken_revoke = {
    "etoken_revoke",
    "UPDATE enrollment_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
    " RETURNING id",
    1};

const struct gf_stmt gf_q_etoken_use = {
    "etoken_use",
    "SELECT t.id, t.project_id, p.tenant_id, t.auto_accept, t.default_labels::text,"
    " CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'"
    "      WHEN t.expires_at IS NOT NULL AND t.expires_at <= now() THEN 'expired'"
    "      WHEN t.max_uses IS NOT NULL AND t.uses >= t.max_uses THEN 'used_up'"
    " END"
    " FROM enrollment_tokens t JOIN projects p ON p.id = t.project_id"
    " WHERE t.secret_hash = $1 FOR UPDATE OF t",
    1};

const struct gf_stmt gf_q_etoken_count_use = {
    "etoken_count_use", "UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $1", 1};

const struct gf_stmt gf_q_enroll_find = {
    "enroll_find",
    "SELECT id, status, cred_gen FROM nodes WHERE project_id = $1"
    " AND public_key = decode($2, 'hex') FOR UPDATE",
    2};

const struct gf_stmt gf_q_enroll_insert = {
    "enroll_insert",
    "INSERT INTO nodes (project_id, name, status, public_key, fingerprint, labels, inventory,"
    " enrollment_token_id, broker_cluster_id, enrolled_at, decided_at)"
    " VALUES ($1, $2, $3, decode($4, 'hex'), $5, $6::jsonb, $7::jsonb, $8, $9,"
    " now(), CASE WHEN $3 = 'accepted' THEN now() END)"
    " RETURNING id, status, cred_gen",
    9};

const struct gf_stmt gf_q_enroll_update = {
    "enroll_update",
    "UPDATE nodes SET fingerprint = $2, inventory = $3::jsonb,"
    " enrollment_token_id = coalesce(enrollment_token_id, $4),"
    " broker_cluster_id = coalesce(broker_cluster_id, $5),"
    " enrolled_at = coalesce(enrolled_at, now()), updated_at = now()"
    " WHERE id = $1 RETURNING id, status, cred_gen",
    5};

const struct gf_stmt gf_q_project_cluster = {
    "project_cluster",
    "SELECT id, agent_url FROM broker_clusters WHERE project_id = $1"
    " ORDER BY created_at, id LIMIT 1",
    1};

const struct gf_stmt gf_q_enroll_poll = {
    "enroll_poll",
    "SELECT n.status, encode(n.public_key, 'hex'), n.cred_gen, c.agent_url, n.project_id,"
    " p.tenant_id, n.broker_cluster_id"
    " FROM nodes n JOIN projects p ON p.id = n.project_id"
    " LEFT JOIN broker_clusters c ON c.id = n.broker_cluster_id WHERE n.id = $1",
    1};

const struct gf_stmt gf_q_account_want = {
    "account_want",
    "INSERT INTO broker_accounts AS a (cluster_id, username, node_id, want, cred_gen)"
    " VALUES ($1, $2, $3, 'present', $4::int)"
    " ON CONFLICT (cluster_id, username) DO UPDATE SET want = 'present', done = false,"
    " cred_gen = EXCLUDED.cred_gen, attempts = 0, next_try_at = now(), updated_at = now()"
    " WHERE a.want <> 'present' OR a.cred_gen <> EXCLUDED.cred_gen",
    4};

const struct gf_stmt gf_q_account_drop = {
    "account_drop",
    "UPDATE broker_accounts SET want = 'absent', done = false, attempts = 0,"
    " next_try_at = now(), updated_at = now() WHERE node_id = $1 AND want = 'present'",
    1};
