/* SPDX-License-Identifier: Apache-2.0
 *
 * q_tokens.h - statements for API tokens and the audit trail listing.
 */
#ifndef GF_SERVER_Q_TOKENS_H
#define GF_SERVER_Q_TOKENS_H

#include "db.h"

/* $1 user, $2 cursor us, $3 cursor id, $4 fetch */
extern const struct gf_stmt gf_q_token_list;
/* $1 user, $2 tenant, $3 name, $4 prefix, $5 secret hash, $6 role, $7 expires_at (text) or
 * NULL, $8 default ttl seconds -> json, id */
extern const struct gf_stmt gf_q_token_create;
/* $1 token, $2 user, $3 is_admin -> tenant_id (revokes) */
extern const struct gf_stmt gf_q_token_revoke;
/* $1 tenant, $2 user -> role */
extern const struct gf_stmt gf_q_membership_role;
/* $1 tenant, $2 actor id, $3 action (prefix match with '.' or exact), $4 object_type,
 * $5 object_id, $6 outcome, $7 from, $8 to, $9 cursor at us, $10 cursor id, $11 fetch */
extern const struct gf_stmt gf_q_audit_list;

#endif
