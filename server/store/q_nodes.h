/* SPDX-License-Identifier: Apache-2.0
 *
 * q_nodes.h - statements for nodes, admission and health reads (h_nodes.c, h_health.c).
 */
#ifndef GF_SERVER_Q_NODES_H
#define GF_SERVER_Q_NODES_H

#include "db.h"

/* $1 project, $2 status, $3 online, $4 selector json, $5 text, $6 cursor us, $7 cursor id,
 * $8 fetch */
extern const struct gf_stmt gf_q_node_list;
/* $1 id -> json, version */
extern const struct gf_stmt gf_q_node_get;
/* $1 id, $2 name, $3 labels json (NULL keeps), $4 if-match version -> json, version */
extern const struct gf_stmt gf_q_node_update;
/* $1 id */
extern const struct gf_stmt gf_q_node_delete;
/* $1 id, $2 deciding user -> json, version, cluster id, cred_gen; no row when the node is
 * decommissioned */
extern const struct gf_stmt gf_q_node_accept;
/* $1 id, $2 deciding user -> json, version; no row when decommissioned */
extern const struct gf_stmt gf_q_node_reject;
/* $1 id -> status */
extern const struct gf_stmt gf_q_node_status;
/* $1 project, $2 name, $3 public key hex, $4 labels json, $5 user -> json, version, id,
 * cred_gen, cluster id (the project's first cluster, or NULL) */
extern const struct gf_stmt gf_q_node_preauth;
/* $1 node, $2 from, $3 to, $4 step seconds -> json */
extern const struct gf_stmt gf_q_health_series;
/* $1 project -> json */
extern const struct gf_stmt gf_q_health_summary;
/* $1 node, $2 limit -> json array of presence rows, newest first */
extern const struct gf_stmt gf_q_node_presence;

#endif
