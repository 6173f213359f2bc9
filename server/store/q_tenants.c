/* SPDX-License-Identifier: Apache-2.0
 *
 * q_tenants.c - SQL for tenants and memberships (see q_tenants.h).
 */
#include "q_tenants.h"

#include "q_sql.h"

const struct gf_stmt gf_q_tenant_list = {
    "tenant_list",
    "SELECT " GF_SQL_TENANT_JSON("t") ", " GF_SQL_CURSOR("t") " FROM tenants t"
    " WHERE ($1::bool OR t.id IN (SELECT tenant_id FROM memberships WHERE user_id = $2::uuid))"
    " AND ($3::uuid IS NULL OR t.id = $3::uuid) AND " GF_SQL_AFTER("t", "$4", "$5")
    " ORDER BY t.created_at, t.id LIMIT $6",
    6};

const struct gf_stmt gf_q_tenant_create = {
    "tenant_create",
    "INSERT INTO tenants AS t (name, slug) VALUES ($1, $2)"
    " RETURNING " GF_SQL_TENANT_JSON("t") ", t.version, t.id",
    2};

const struct gf_stmt gf_q_tenant_get = {
    "tenant_get", "SELECT " GF_SQL_TENANT_JSON("t") ", t.version FROM tenants t WHERE t.id = $1",
    1};

const struct gf_stmt gf_q_tenant_update = {
    "tenant_update",
    "UPDATE tenants AS t SET name = coalesce($2, t.name), updated_at = now(),"
    " version = t.version + 1 WHERE t.id = $1 AND ($3::int IS NULL OR t.version = $3::int)"
    " RETURNING " GF_SQL_TENANT_JSON("t") ", t.version",
    3};

const struct gf_stmt gf_q_tenant_delete = {"tenant_delete",
                                           "DELETE FROM tenants WHERE id = $1 RETURNING id", 1};

const struct gf_stmt gf_q_member_list = {
    "member_list",
    "SELECT " GF_SQL_MEMBER_JSON("m", "u") ","
    " ((extract(epoch from m.created_at) * 1000000)::bigint || '.' || m.user_id)"
    " FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND"
    " ($2::bigint IS NULL OR (m.created_at, m.user_id) > ('epoch'::timestamptz + $2::bigint"
    " * interval '1 microsecond', $3::uuid)) ORDER BY m.created_at, m.user_id LIMIT $4",
    4};

const struct gf_stmt gf_q_member_add = {
    "member_add",
    "WITH m AS (INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)"
    " RETURNING *) SELECT " GF_SQL_MEMBER_JSON("m", "u") " FROM m JOIN users u ON u.id = m.user_id",
    3};

const struct gf_stmt gf_q_member_lock = {
    "member_lock",
    "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE", 2};

const struct gf_stmt gf_q_member_owners = {
    "member_owners",
    "SELECT count(*) FROM (SELECT 1 FROM memberships WHERE tenant_id = $1 AND role = 'owner'"
    " FOR UPDATE) o",
    1};

const struct gf_stmt gf_q_member_set_role = {
    "member_set_role",
    "WITH m AS (UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2"
    " RETURNING *) SELECT " GF_SQL_MEMBER_JSON("m", "u") " FROM m JOIN users u ON u.id = m.user_id",
    3};

const struct gf_stmt gf_q_member_remove = {
    "member_remove",
    "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2 RETURNING user_id", 2};

const struct gf_stmt gf_q_member_revoke_tokens = {
    "member_revoke_tokens",
    "UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = $1 AND user_id = $2"
    " AND revoked_at IS NULL",
    2};
