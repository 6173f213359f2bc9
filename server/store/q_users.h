/* SPDX-License-Identifier: Apache-2.0
 *
 * q_users.h - statements for users, sessions and the failed-login counters.
 */
#ifndef GF_SERVER_Q_USERS_H
#define GF_SERVER_Q_USERS_H

#include "db.h"

/* $1 email (or NULL), $2 id (or NULL) -> id */
extern const struct gf_stmt gf_q_user_find;
/* $1 cursor us, $2 cursor id, $3 fetch */
extern const struct gf_stmt gf_q_user_list;
/* $1 email, $2 name, $3 password hash, $4 is_admin -> json, version, id */
extern const struct gf_stmt gf_q_user_create;
/* $1 id -> json, version */
extern const struct gf_stmt gf_q_user_get;
/* $1 id, $2 name, $3 password hash, $4 is_admin, $5 disabled (NULL keeps), $6 if-match
 * -> json, version */
extern const struct gf_stmt gf_q_user_update;
/* $1 id */
extern const struct gf_stmt gf_q_user_delete;
/* $1 id -> slugs of the tenants it is the only owner of (owner rows locked) */
extern const struct gf_stmt gf_q_user_sole_owner;
/* $1 user: drop every session (password change, disable) */
extern const struct gf_stmt gf_q_user_drop_sessions;
/* $1 email -> id, email, password_hash, disabled, is_admin */
extern const struct gf_stmt gf_q_user_for_login;
/* $1 account key, $2 address key, $3 window seconds, $4 max per account, $5 max per address
 * -> seconds until the oldest full window ends (one row if locked) */
extern const struct gf_stmt gf_q_login_locked;
/* $1 scope, $2 key, $3 window seconds: count a failure */
extern const struct gf_stmt gf_q_login_fail;
/* $1 account key: forget failures after a success */
extern const struct gf_stmt gf_q_login_clear;
/* $1 token hash, $2 user, $3 source, $4 ttl seconds -> id */
extern const struct gf_stmt gf_q_session_create;
/* $1 session id */
extern const struct gf_stmt gf_q_session_delete;
/* $1 user -> memberships json array */
extern const struct gf_stmt gf_q_user_memberships;

#endif
