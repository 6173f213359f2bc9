/* SPDX-License-Identifier: Apache-2.0
 *
 * q_tenants.h - statements for tenants and their memberships. Column conventions as in
 * server/http/respond.h (0 = JSON, 1 = version or cursor).
 */
#ifndef GF_SERVER_Q_TENANTS_H
#define GF_SERVER_Q_TENANTS_H

#include "db.h"

/* $1 is_admin, $2 user id, $3 token tenant (NULL), $4 cursor us, $5 cursor id, $6 fetch */
extern const struct gf_stmt gf_q_tenant_list;
/* $1 name, $2 slug -> json, version, id */
extern const struct gf_stmt gf_q_tenant_create;
/* $1 id -> json, version */
extern const struct gf_stmt gf_q_tenant_get;
/* $1 id, $2 name (NULL keeps), $3 if-match version (NULL) -> json, version */
extern const struct gf_stmt gf_q_tenant_update;
/* $1 id */
extern const struct gf_stmt gf_q_tenant_delete;

/* $1 tenant, $2 cursor us, $3 cursor id, $4 fetch */
extern const struct gf_stmt gf_q_member_list;
/* $1 tenant, $2 user id, $3 role -> json */
extern const struct gf_stmt gf_q_member_add;
/* $1 tenant, $2 user id -> role, locked FOR UPDATE */
extern const struct gf_stmt gf_q_member_lock;
/* $1 tenant -> count of owners, locking the owner rows */
extern const struct gf_stmt gf_q_member_owners;
/* $1 tenant, $2 user id, $3 role -> json */
extern const struct gf_stmt gf_q_member_set_role;
/* $1 tenant, $2 user id */
extern const struct gf_stmt gf_q_member_remove;
/* $1 tenant, $2 user id: revoke the user's tokens for the tenant (membership gone) */
extern const struct gf_stmt gf_q_member_revoke_tokens;

#endif
