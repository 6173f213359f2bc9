/* SPDX-License-Identifier: Apache-2.0
 *
 * published.h - what every assignment of a bundle asks of its row (gf_q_bundle_signed:
 * status, manifest, key id, signature hex, project, templated, expired, ...): may it be
 * handed to agents now, and its signed envelope. PUT /nodes/{id}/bundle, rollouts and
 * the rollout engine all go through these two, so the rules cannot drift apart.
 */
#ifndef GF_SERVER_BUNDLES_PUBLISHED_H
#define GF_SERVER_BUNDLES_PUBLISHED_H

#include "err.h"

#include <libpq-fe.h>
#include <stddef.h>

struct gf_dbconn;

/* GF_OK when the bundle is signed, not expired and (unless templated: signed per node at
 * assignment) signed by a key its project's agents still trust; else GF_ERR_CONFLICT with
 * diag (where "/bundle_id"). */
enum gf_err gf_bundle_usable(struct gf_dbconn *db, const PGresult *b, struct gf_diag *diag);

/* The bundle's envelope (sign.h): its exact manifest bytes, key id and signature. Caller
 * frees *out (gf_free). */
enum gf_err gf_bundle_envelope(const PGresult *b, char **out, size_t *len);

#endif
