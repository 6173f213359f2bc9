/* SPDX-License-Identifier: Apache-2.0
 *
 * trustroot.h - the server's side of a project's signing keys and trust root
 * (proto/bundle/sign.h). Every change of the key set (a key joins, a key retires) is the
 * next trust statement: it is signed by a server-held key of the current root (the old key
 * signs the rotation; for seq 1, by the joining key itself) and takes effect at once, or,
 * when the current root has only offline keys, waits as pending until an operator posts
 * the signature of one of them. One statement may be pending at a time. Server-held secret
 * keys are sealed with the master key (core/secrets.h) as hex text and opened only to sign.
 * All calls run inside the caller's transaction. Thread-safe (no shared state).
 */
#ifndef GF_SERVER_TRUSTROOT_H
#define GF_SERVER_TRUSTROOT_H

#include "../store/db.h"
#include "err.h"
#include "manifest.h"
#include "sign.h"

#include <stdint.h>

/* The server-held key that signs for project now: an active one, or (include joining) the
 * key joining_key_id. GF_ERR_NOTFOUND when the project has none. sk is wiped by the caller. */
enum gf_err gf_trustroot_signer(struct gf_dbconn *db, const unsigned char master[32],
                                const char *project, const char *joining_key_id,
                                unsigned char sk[GF_SECKEY_LEN], char key_id[GF_KEY_ID_LEN + 1]);

/* Generate a server-held key (state pending) named name. key_id receives its id; *row (may be
 * NULL) the key's JSON row (json, id). */
enum gf_err gf_trustroot_new_server_key(struct gf_dbconn *db, const unsigned char master[32],
                                        const char *project, const char *name, const char *user,
                                        char key_id[GF_KEY_ID_LEN + 1], PGresult **row);

/* Make the next statement: current active keys minus retiring plus joining (either may be
 * NULL). *seq receives its number and *is_signed whether it took effect. GF_ERR_CONFLICT
 * (diag) when a statement is already pending, GF_ERR_INVAL when the new root would be
 * empty. */
enum gf_err gf_trustroot_change(struct gf_dbconn *db, const unsigned char master[32],
                                const char *project, const char *retiring, const char *joining,
                                uint64_t *seq, int *is_signed, struct gf_diag *diag);

/* Complete the pending statement with an offline signature (key_id, 128 hex). It must verify
 * with a key of the current root (for seq 1, of the statement itself). *reason on refusal. */
enum gf_err gf_trustroot_sign_pending(struct gf_dbconn *db, const char *project, const char *key_id,
                                      const char *sig_hex, enum gf_reject *reason,
                                      struct gf_diag *diag);

/* Verify sig_hex over bytes with the project's active key key_id. GF_ERR_CRYPTO with
 * *reason GF_REJECT_UNKNOWN_KEY or GF_REJECT_SIGNATURE. */
enum gf_err gf_trustroot_verify(struct gf_dbconn *db, const char *project, const char *key_id,
                                const char *sig_hex, const void *bytes, size_t len,
                                enum gf_reject *reason);

/* Sign bytes with the project's server-held key; creates the project's first key (and trust
 * statement 1) when the project has no keys at all. GF_ERR_CONFLICT (diag) when the project
 * has keys but none held by the server. */
enum gf_err gf_trustroot_sign(struct gf_dbconn *db, const unsigned char master[32],
                              const char *project, const void *bytes, size_t len,
                              char key_id[GF_KEY_ID_LEN + 1], char sig_hex[2 * GF_SIG_LEN + 1],
                              struct gf_diag *diag);

/* Envelope text (sign.h) of bytes signed by key_id with a signature given as 128 hex.
 * Caller frees *out (gf_free). GF_ERR_INTERNAL when sig_hex is not a signature. */
enum gf_err gf_trustroot_envelope(const char *bytes, size_t len, const char *key_id,
                                  const char *sig_hex, char **out, size_t *outlen);

#endif
