/* SPDX-License-Identifier: Apache-2.0
 *
 * q_bundles.h - statements for signing keys, trust statements, bundles and blobs, node
 * assignments (desired state and its outbox), agent downloads and bundle/status.
 */
#ifndef GF_SERVER_Q_BUNDLES_H
#define GF_SERVER_Q_BUNDLES_H

#include "db.h"

/* keys and trust ---------------------------------------------------------------------- */
/* $1 project, $2 state filter, $3 cursor us, $4 cursor id, $5 fetch */
extern const struct gf_stmt gf_q_key_list;
/* $1 project, $2 key id, $3 public key hex, $4 sealed secret (bytea text) or NULL, $5 name,
 * $6 created by -> json, id (state pending) */
extern const struct gf_stmt gf_q_key_insert;
/* $1 id -> json, project, key id, state */
extern const struct gf_stmt gf_q_key_get;
/* $1 project: serialise changes of the project's trust root */
extern const struct gf_stmt gf_q_trust_lock;
/* $1 project -> seq, signed (newest statement) */
extern const struct gf_stmt gf_q_trust_last;
/* $1 project, $2 retiring key id or NULL, $3 joining key id or NULL -> key id, public hex */
extern const struct gf_stmt gf_q_trust_next_keys;
/* $1 project, $2 include the joining key (bool), $3 joining key id -> key id, sealed hex */
extern const struct gf_stmt gf_q_trust_signer;
/* $1 project, $2 seq, $3 statement text, $4 key id or NULL, $5 signature hex or NULL */
extern const struct gf_stmt gf_q_trust_insert;
/* $1 project -> seq, statement text of the pending statement */
extern const struct gf_stmt gf_q_trust_pending;
/* $1 project, $2 seq, $3 key id, $4 signature hex */
extern const struct gf_stmt gf_q_trust_sign;
/* $1 project, $2 text[] of the key ids of the new root */
extern const struct gf_stmt gf_q_keys_apply;
/* $1 project, $2 key id -> public key hex of an active key */
extern const struct gf_stmt gf_q_trust_key_pub;
/* $1 project -> seq, statement, key id, signature hex (newest signed) */
extern const struct gf_stmt gf_q_trust_current;
/* $1 project, $2 seq -> signed statements after seq, in order */
extern const struct gf_stmt gf_q_trust_after;

/* bundles and blobs ------------------------------------------------------------------- */
/* $1 project, $2 name: serialise uploads of one name (then gf_q_bundle_next_version) */
extern const struct gf_stmt gf_q_bundle_lock;
/* $1 project, $2 name -> next version */
extern const struct gf_stmt gf_q_bundle_next_version;
/* $1 sha256, $2 size, $3 content (bytea hex text) */
extern const struct gf_stmt gf_q_blob_put;
/* $1 project, $2 name, $3 version, $4 manifest, $5 sha, $6 status, $7 key id, $8 sig hex,
 * $9 templated, $10 parameters, $11 description, $12 created by, $13 expires, $14 target
 * -> id */
extern const struct gf_stmt gf_q_bundle_insert;
/* $1 bundle, $2 path, $3 sha, $4 mode, $5 size, $6 template */
extern const struct gf_stmt gf_q_bundle_file_insert;
/* $1 id -> json */
extern const struct gf_stmt gf_q_bundle_get;
/* $1 project, $2 name, $3 status, $4 cursor us, $5 cursor id, $6 fetch */
extern const struct gf_stmt gf_q_bundle_list;
/* $1 id -> status, manifest, key id, sig hex, project, templated, expired, name, version,
 * sha, parameters, target */
extern const struct gf_stmt gf_q_bundle_signed;
/* $1 id, $2 key id, $3 sig hex (unsigned -> published) */
extern const struct gf_stmt gf_q_bundle_sign;
/* $1 bundle -> path, sha, size, mode, template, template text */
extern const struct gf_stmt gf_q_bundle_files;

/* assignment -------------------------------------------------------------------------- */
/* $1 node -> project, status, labels, arch (locks the node) */
extern const struct gf_stmt gf_q_assign_node;
/* $1 node, $2 bundle, $3 envelope, $4 sha, $5 version, $6 user -> json */
extern const struct gf_stmt gf_q_node_bundle_put;
extern const struct gf_stmt gf_q_node_files_clear;   /* $1 node */
extern const struct gf_stmt gf_q_node_bundle_get;    /* $1 node -> json */
extern const struct gf_stmt gf_q_node_bundle_events; /* $1 node -> json array */
/* $1 project, $2 cursor us, $3 cursor id, $4 fetch */
extern const struct gf_stmt gf_q_drift_list;
/* Nodes' instances of templated bundles (bundles/pernode.h): $1 {sha: {z size, c hex}} */
extern const struct gf_stmt gf_q_blobs_put_batch;
/* $1 [{n node, p path, s sha}]: each node's rendered files become exactly these */
extern const struct gf_stmt gf_q_node_files_replace;

/* agents ------------------------------------------------------------------------------ */
extern const struct gf_stmt gf_q_agent_node;     /* $1 node -> pk hex, status, project */
extern const struct gf_stmt gf_q_agent_manifest; /* $1 node, $2 bundle -> envelope */
/* $1 node, $2 sha, $3 offset, $4 length -> size, bytes (bytea hex text) */
extern const struct gf_stmt gf_q_agent_blob;

/* desired outbox (fleet thread) ------------------------------------------------------- */
/* $1 cluster, $2 limit -> node, gen, payload (locks) */
extern const struct gf_stmt gf_q_desired_due;
extern const struct gf_stmt gf_q_desired_done;      /* $1 [{n, g}] */
extern const struct gf_stmt gf_q_desired_republish; /* $1 cluster */
extern const struct gf_stmt gf_q_desired_failed;    /* $1 [{n, g}], $2 error */

#endif
