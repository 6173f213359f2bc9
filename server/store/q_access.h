/* SPDX-License-Identifier: Apache-2.0
 *
 * q_access.h - statements of the access layer: session and token lookup, scope
 * resolution (object -> tenant + caller's membership role), audit append, idempotency keys.
 * Statements are data (see db.h); parameters are listed at each declaration.
 */
#ifndef GF_SERVER_Q_ACCESS_H
#define GF_SERVER_Q_ACCESS_H

#include "db.h"

/* $1 sha256(cookie) -> session_id, user_id, email, is_admin */
extern const struct gf_stmt gf_q_session_lookup;
/* $1 sha256(token) -> token_id, user_id, email, tenant_id, role, prefix */
extern const struct gf_stmt gf_q_token_lookup;
/* $1 token id: last_used_at = now() at most once a minute */
extern const struct gf_stmt gf_q_token_touch;
/* $1 tenant id, $2 user id -> tenant_id, role (NULL when not a member) */
extern const struct gf_stmt gf_q_scope_tenant;
/* $1 project id, $2 user id -> tenant_id, role */
extern const struct gf_stmt gf_q_scope_project;
/* $1 node / cluster / enrollment token, $2 user -> tenant id, role (the object's project's
 * tenant) */
extern const struct gf_stmt gf_q_scope_node;
extern const struct gf_stmt gf_q_scope_cluster;
extern const struct gf_stmt gf_q_scope_etoken;
extern const struct gf_stmt gf_q_scope_bundle;
extern const struct gf_stmt gf_q_scope_signing_key;
extern const struct gf_stmt gf_q_scope_rollout;
extern const struct gf_stmt gf_q_scope_command;
extern const struct gf_stmt gf_q_scope_command_batch;
extern const struct gf_stmt gf_q_scope_log_stream;
/* $1 tenant_id, $2 actor_type, $3 actor_id, $4 actor_label, $5 action, $6 object_type,
 * $7 object_id, $8 outcome, $9 source, $10 detail (jsonb text) */
extern const struct gf_stmt gf_q_audit_insert;
/* $1 actor, $2 key: forget an expired key */
extern const struct gf_stmt gf_q_idem_expire;
/* $1 actor, $2 key, $3 method, $4 path, $5 request_hash -> 1 row if claimed */
extern const struct gf_stmt gf_q_idem_claim;
/* $1 actor, $2 key -> request_hash, status, content_type, response */
extern const struct gf_stmt gf_q_idem_get;
/* $1 actor, $2 key, $3 status, $4 content_type, $5 response */
extern const struct gf_stmt gf_q_idem_store;
/* $1 login_window seconds -> counts deleted: sessions, idempotency keys, login failures */
extern const struct gf_stmt gf_q_bookkeeping_purge;

#endif
