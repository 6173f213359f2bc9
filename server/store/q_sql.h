/* SPDX-License-Identifier: Apache-2.0
 *
 * q_sql.h - SQL fragments shared by the q_*.c files: the JSON shape of each object (built by
 * PostgreSQL so the server never re-serialises rows), and keyset pagination.
 */
#ifndef GF_SERVER_Q_SQL_H
#define GF_SERVER_Q_SQL_H

/* Cursor text of row alias t: "<created_at in microseconds>.<id>". */
#define GF_SQL_CURSOR(t)                                                                        \
    "((extract(epoch from " t ".created_at) * 1000000)::bigint || '.' || " t ".id)"

/* Rows after the cursor ($us, $id) in (created_at, id) order; NULL $us = first page. */
#define GF_SQL_AFTER(t, us, id)                                                                 \
    "(" us "::bigint IS NULL OR (" t ".created_at, " t ".id) > ('epoch'::timestamptz + " us     \
    "::bigint * interval '1 microsecond', " id "::uuid))"

#define GF_SQL_TENANT_JSON(t)                                                                   \
    "json_build_object('id', " t ".id, 'name', " t ".name, 'slug', " t ".slug,"                 \
    " 'created_at', gf_ts(" t ".created_at), 'updated_at', gf_ts(" t ".updated_at),"            \
    " 'version', " t ".version)::text"

#define GF_SQL_PROJECT_JSON(t)                                                                  \
    "json_build_object('id', " t ".id, 'tenant_id', " t ".tenant_id, 'name', " t ".name,"       \
    " 'description', " t ".description, 'created_at', gf_ts(" t ".created_at),"                 \
    " 'updated_at', gf_ts(" t ".updated_at), 'version', " t ".version)::text"

#define GF_SQL_USER_JSON(t)                                                                     \
    "json_build_object('id', " t ".id, 'email', " t ".email, 'name', " t ".name,"               \
    " 'is_admin', " t ".is_admin, 'disabled', " t ".disabled,"                                  \
    " 'created_at', gf_ts(" t ".created_at), 'updated_at', gf_ts(" t ".updated_at),"            \
    " 'version', " t ".version)::text"

#define GF_SQL_TOKEN_JSON(t)                                                                    \
    "json_build_object('id', " t ".id, 'name', " t ".name, 'prefix', " t ".prefix,"             \
    " 'tenant_id', " t ".tenant_id, 'role', " t ".role, 'created_at', gf_ts(" t ".created_at)," \
    " 'expires_at', gf_ts(" t ".expires_at), 'last_used_at', gf_ts(" t ".last_used_at),"        \
    " 'revoked_at', gf_ts(" t ".revoked_at))::text"

#define GF_SQL_MEMBER_JSON(m, u)                                                                \
    "json_build_object('tenant_id', " m ".tenant_id, 'user_id', " m ".user_id,"                 \
    " 'email', " u ".email, 'name', " u ".name, 'role', " m ".role,"                            \
    " 'created_at', gf_ts(" m ".created_at))::text"

#endif
