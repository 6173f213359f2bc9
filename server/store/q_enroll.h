/* SPDX-License-Identifier: Apache-2.0
 *
 * q_enroll.h - statements for enrollment tokens and agent enrollment (h_enroll*.c).
 */
#ifndef GF_SERVER_Q_ENROLL_H
#define GF_SERVER_Q_ENROLL_H

#include "db.h"

/* $1 project, $2 name, $3 secret hash, $4 prefix, $5 default labels json, $6 auto accept,
 * $7 max uses, $8 expires at, $9 created by -> json, id */
extern const struct gf_stmt gf_q_etoken_create;
/* $1 project, $2 cursor us, $3 cursor id, $4 fetch */
extern const struct gf_stmt gf_q_etoken_list;
/* $1 id -> json */
extern const struct gf_stmt gf_q_etoken_get;
/* $1 id -> revokes (no row when already revoked) */
extern const struct gf_stmt gf_q_etoken_revoke;
/* $1 secret hash -> id, project, tenant, auto_accept, default_labels, problem (revoked,
 * expired, used_up) or NULL (locks the token row) */
extern const struct gf_stmt gf_q_etoken_use;
/* $1 id */
extern const struct gf_stmt gf_q_etoken_count_use;
/* $1 project, $2 public key hex -> id, status, cred_gen (locks the node row) */
extern const struct gf_stmt gf_q_enroll_find;
/* $1 project, $2 name, $3 status, $4 public key hex, $5 fingerprint, $6 labels, $7 inventory,
 * $8 token id, $9 cluster id -> id, status, cred_gen */
extern const struct gf_stmt gf_q_enroll_insert;
/* $1 node, $2 fingerprint, $3 inventory, $4 token id, $5 cluster id -> id, status, cred_gen */
extern const struct gf_stmt gf_q_enroll_update;
/* $1 project -> cluster id, agent url (the project's first cluster) */
extern const struct gf_stmt gf_q_project_cluster;
/* $1 node -> status, public key hex, cred_gen, agent url, project, tenant, cluster id */
extern const struct gf_stmt gf_q_enroll_poll;
/* $1 cluster, $2 username, $3 node, $4 cred_gen: want the account present */
extern const struct gf_stmt gf_q_account_want;
/* $1 node: want every account of the node absent */
extern const struct gf_stmt gf_q_account_drop;

#endif
