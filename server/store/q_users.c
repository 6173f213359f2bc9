/* SPDX-License-Identifier: Apache-2.0
 *
 * q_users.c - SQL for users, sessions and failed-login counters (see q_users.h).
 */
#include "q_users.h"

#include "q_sql.h"

const struct gf_stmt gf_q_user_find = {
    "user_find",
    "SELECT id FROM users WHERE ($1::text IS NOT NULL AND lower(email) = lower($1))"
    " OR ($2::uuid IS NOT NULL AND id = $2::uuid)",
    2};

const struct gf_stmt gf_q_user_list = {
    "user_list",
    "SELECT " GF_SQL_USER_JSON("u") ", " GF_SQL_CURSOR("u") " FROM users u WHERE "
    GF_SQL_AFTER("u", "$1", "$2") " ORDER BY u.created_at, u.id LIMIT $3",
    3};

const struct gf_stmt gf_q_user_create = {
    "user_create",
    "INSERT INTO users AS u (email, name, password_hash, is_admin)"
    " VALUES ($1, coalesce($2, ''), $3, coalesce($4::bool, false))"
    " RETURNING " GF_SQL_USER_JSON("u") ", u.version, u.id",
    4};

const struct gf_stmt gf_q_user_get = {
    "user_get", "SELECT " GF_SQL_USER_JSON("u") ", u.version FROM users u WHERE u.id = $1", 1};

const struct gf_stmt gf_q_user_update = {
    "user_update",
    "UPDATE users AS u SET name = coalesce($2, u.name),"
    " password_hash = coalesce($3, u.password_hash), is_admin = coalesce($4::bool, u.is_admin),"
    " disabled = coalesce($5::bool, u.disabled), updated_at = now(), version = u.version + 1"
    " WHERE u.id = $1 AND ($6::int IS NULL OR u.version = $6::int)"
    " RETURNING " GF_SQL_USER_JSON("u") ", u.version",
    6};

const struct gf_stmt gf_q_user_delete = {"user_delete",
                                         "DELETE FROM users WHERE id = $1 RETURNING id", 1};

/* $1 user -> slugs of the tenants (5 at most) the user is the only owner of. The owner rows
 * of every tenant the user owns are locked first, so two deletions of a tenant's last two
 * owners cannot both pass. */
const struct gf_stmt gf_q_user_sole_owner = {
    "user_sole_owner",
    "WITH t AS (SELECT tenant_id FROM memberships WHERE user_id = $1 AND role = 'owner'),"
    " o AS (SELECT m.tenant_id, m.user_id FROM memberships m WHERE m.role = 'owner'"
    " AND m.tenant_id IN (SELECT tenant_id FROM t) ORDER BY m.tenant_id, m.user_id FOR UPDATE)"
    " SELECT x.slug FROM tenants x WHERE x.id IN (SELECT tenant_id FROM t)"
    " AND NOT EXISTS (SELECT 1 FROM o WHERE o.tenant_id = x.id AND o.user_id <> $1)"
    " ORDER BY x.slug LIMIT 5",
    1};

const struct gf_stmt gf_q_user_drop_sessions = {"user_drop_sessions",
                                                "DELETE FROM sessions WHERE user_id = $1", 1};

const struct gf_stmt gf_q_user_for_login = {
    "user_for_login",
    "SELECT id, email, password_hash, disabled, is_admin FROM users WHERE lower(email) = lower($1)",
    1};

const struct gf_stmt gf_q_login_locked = {
    "login_locked",
    "SELECT ceil(extract(epoch from max(window_start + make_interval(secs => $3::int) - now())))"
    "::bigint FROM login_failures"
    " WHERE window_start > now() - make_interval(secs => $3::int)"
    " AND ((scope = 'account' AND key = $1 AND failures >= $4::int)"
    "   OR (scope = 'address' AND key = $2 AND failures >= $5::int))"
    " HAVING count(*) > 0",
    5};

const struct gf_stmt gf_q_login_fail = {
    "login_fail",
    "INSERT INTO login_failures AS f (scope, key, window_start, failures) VALUES ($1, $2, now(), 1)"
    " ON CONFLICT (scope, key) DO UPDATE SET"
    " failures = CASE WHEN f.window_start > now() - make_interval(secs => $3::int)"
    "   THEN f.failures + 1 ELSE 1 END,"
    " window_start = CASE WHEN f.window_start > now() - make_interval(secs => $3::int)"
    "   THEN f.window_start ELSE now() END",
    3};

const struct gf_stmt gf_q_login_clear = {
    "login_clear", "DELETE FROM login_failures WHERE scope = 'account' AND key = $1", 1};

const struct gf_stmt gf_q_session_create = {
    "session_create",
    "INSERT INTO sessions (token_hash, user_id, source, expires_at)"
    " VALUES ($1, $2, $3, now() + make_interval(secs => $4::int)) RETURNING id",
    4};

const struct gf_stmt gf_q_session_delete = {"session_delete",
                                            "DELETE FROM sessions WHERE id = $1", 1};

const struct gf_stmt gf_q_user_memberships = {
    "user_memberships",
    "SELECT coalesce(json_agg(json_build_object('tenant_id', t.id, 'tenant_name', t.name,"
    " 'tenant_slug', t.slug, 'role', m.role) ORDER BY t.name), '[]')::text"
    " FROM memberships m JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = $1",
    1};
