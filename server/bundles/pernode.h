/* SPDX-License-Identifier: Apache-2.0
 *
 * pernode.h - nodes' own instances of a templated bundle. An instance is the bundle's
 * template files rendered with the node's values (render.h: its row of the bundle's value
 * table, its labels, the default row), stored as blobs the node alone may fetch
 * (node_bundle_files), and a manifest naming the node ("node"), signed with the project's
 * server-held key: the agent verifies exactly the bytes it installs. The same labels give
 * the same bytes (the manifest keeps the template's times; Ed25519 is deterministic), so an
 * instance rendered twice is the same instance, stored once by content hash.
 *
 * The template is opened once (manifest, template texts, value table, signing key) and then
 * renders a batch of nodes; the batch is stored set-based, so the rollout engine renders
 * thousands of targets in a handful of statements. PUT /nodes/{id}/bundle is a batch of one.
 * Everything runs inside the caller's transaction. A handle is used by one thread at a time.
 */
#ifndef GF_SERVER_BUNDLES_PERNODE_H
#define GF_SERVER_BUNDLES_PERNODE_H

#include "err.h"

#include <libpq-fe.h>
#include <stddef.h>

/* Bytes one batch may hold (envelopes and new rendered files, as sent to PostgreSQL). A
 * node's instance larger than this is still taken when it is alone in its batch. */
#define GF_PERNODE_BATCH_BYTES (16u * 1024u * 1024u)

struct gf_dbconn;
struct gf_pernode;

/* Open the templated bundle whose gf_q_bundle_signed row is b (row 0; its id is bundle) for
 * rendering, with the project's server-held signing key opened with master. Errors:
 * GF_ERR_CONFLICT (diag, where "/bundle_id") when the project's trust root holds no
 * server-held key; GF_ERR_INTERNAL when the stored manifest cannot be read; GF_ERR_NOMEM;
 * database errors. Caller owns *out (free with gf_pernode_free). */
enum gf_err gf_pernode_open(struct gf_dbconn *db, const unsigned char master[32], const PGresult *b,
                            const char *bundle, struct gf_pernode **out, struct gf_diag *diag);

/* Render node's instance (labels: the node's labels as JSON text) and add it to the batch.
 * Errors: GF_ERR_UNPROCESSABLE with diag ("template etc/x.conf: no value for ${zone}: ...",
 * where "/bundle_id") when a template cannot be rendered for the node; GF_ERR_TOOBIG when
 * the batch already holds nodes and this one would take it past GF_PERNODE_BATCH_BYTES
 * (nothing added: store the batch, reset, add again); GF_ERR_NOMEM. */
enum gf_err gf_pernode_add(struct gf_pernode *t, const char *node, const char *labels,
                           struct gf_diag *diag);

/* Nodes in the batch. */
size_t gf_pernode_count(const struct gf_pernode *t);

/* The last node added: its envelope (the exact text agents fetch) and the SHA-256 of its
 * manifest. Borrowed: valid until the next add, reset or free. NULL before the first add. */
const char *gf_pernode_envelope(const struct gf_pernode *t);
const char *gf_pernode_sha256(const struct gf_pernode *t);

/* The batch as JSON text [{"n": node, "env": envelope, "sha": manifest sha256}, ...], for
 * the statements that assign it. Caller owns *out (free with free(): jansson's buffer).
 * GF_ERR_NOMEM. */
enum gf_err gf_pernode_batch_json(const struct gf_pernode *t, char **out);

/* Store the batch: its rendered files as blobs (each once; existing ones are kept) and, for
 * every node of the batch, node_bundle_files replaced by its instance's files. Database
 * errors, GF_ERR_NOMEM. */
enum gf_err gf_pernode_store(struct gf_pernode *t, struct gf_dbconn *db);

/* Empty the batch (the template stays open). */
void gf_pernode_reset(struct gf_pernode *t);

/* Wipe the signing key and free. NULL is a no-op. */
void gf_pernode_free(struct gf_pernode *t);

#endif
