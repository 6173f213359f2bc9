/* SPDX-License-Identifier: Apache-2.0
 *
 * identity.h - the node's Ed25519 identity (libsodium). Created on first start in
 * <state_dir>/identity.key (secret key, 0600) and identity.pub, each written atomically
 * (temp file, fsync, rename), so a power cut leaves either no identity or a whole one.
 * The public key is what enrollment registers; signatures prove later requests come from
 * the enrolled node. The secret key never leaves this module and is wiped on free.
 */
#ifndef GF_AGENT_IDENTITY_H
#define GF_AGENT_IDENTITY_H

#include "err.h"

#include <stddef.h>

#define GF_IDENTITY_PK_BYTES 32
#define GF_IDENTITY_SIG_BYTES 64
#define GF_IDENTITY_PK_TEXT 44 /* base64url of the public key + NUL */

struct gf_identity;

/* Load the identity from state_dir, or create it when neither file exists. Caller owns *out
 * (gf_identity_free). created (optional) is set to 1 when a new key was made.
 * GF_ERR_CRYPTO when the files exist but disagree (public key not derived from the secret),
 * GF_ERR_CONFIG when identity.key is readable by group or others, GF_ERR_IO, GF_ERR_NOMEM. */
enum gf_err gf_identity_load(const char *state_dir, struct gf_identity **out, int *created,
                             struct gf_diag *diag);

/* Wipe and free. NULL is a no-op. */
void gf_identity_free(struct gf_identity *id);

/* The raw public key (borrowed) and its base64url text (cap >= GF_IDENTITY_PK_TEXT). */
const unsigned char *gf_identity_public(const struct gf_identity *id);
void gf_identity_public_text(const struct gf_identity *id, char *out, size_t cap);

/* Detached signature of msg into sig. Thread-safe (read-only use of the key). */
void gf_identity_sign(const struct gf_identity *id, const void *msg, size_t len,
                      unsigned char sig[GF_IDENTITY_SIG_BYTES]);

/* 1 if sig is a valid signature of msg by pk. */
int gf_identity_verify(const unsigned char pk[GF_IDENTITY_PK_BYTES], const void *msg, size_t len,
                       const unsigned char sig[GF_IDENTITY_SIG_BYTES]);

#endif
