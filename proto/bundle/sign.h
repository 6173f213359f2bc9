/* SPDX-License-Identifier: Apache-2.0
 *
 * sign.h - signing keys, signed envelopes and the trust root (libsodium Ed25519).
 *
 * Signed envelope, the only way signed bytes travel (docs/bundle-format.md):
 *
 *   {"signed":"<standard base64 of the exact bytes>","key_id":"<32 hex>","signature":"<128 hex>"}
 *
 * The signature is Ed25519 (detached) over the decoded bytes, never over re-serialised JSON.
 * A key id is the first 16 bytes of SHA-256(public key) in lower-case hex.
 *
 * Trust root: the set of keys an agent accepts bundles from, as a trust statement
 *
 *   {"schema":1,"type":"gatefleet.trust","project":"<uuid>","seq":2,
 *    "created_at":"2026-11-23T08:00:00Z",
 *    "keys":[{"key_id":"<32 hex>","public_key":"<64 hex>"}]}
 *
 * Statement seq N+1 is valid only when signed by a key of statement N (the old key signs the
 * rotation); every change of the project's key set (add, retire, rotate) is one statement.
 * An agent gets the current statement at enrollment (trust on first use over HTTPS, or a
 * pinned statement in its config) and afterwards only advances one seq at a time.
 * Thread-safe (no shared state).
 */
#ifndef GF_PROTO_SIGN_H
#define GF_PROTO_SIGN_H

#include "err.h"
#include "manifest.h"

#include <stddef.h>
#include <stdint.h>

#define GF_KEY_ID_LEN 32                /* hex characters */
#define GF_PUBKEY_LEN 32                /* crypto_sign_PUBLICKEYBYTES */
#define GF_SECKEY_LEN 64                /* crypto_sign_SECRETKEYBYTES */
#define GF_SIG_LEN 64                   /* crypto_sign_BYTES */
#define GF_TRUST_MAX_KEYS 8
#define GF_ENVELOPE_MAX_BYTES (360u * 1024u) /* base64 of a maximal manifest + framing */

struct gf_trust_key {
    char key_id[GF_KEY_ID_LEN + 1];
    unsigned char pk[GF_PUBKEY_LEN];
};

/* A decoded trust statement. Plain value struct. */
struct gf_trust {
    char project[37];
    uint64_t seq;
    int64_t created_us;
    struct gf_trust_key keys[GF_TRUST_MAX_KEYS];
    size_t nkeys;
};

/* A decoded envelope: bytes points into a buffer the caller frees with gf_free. */
struct gf_envelope {
    char *bytes;
    size_t len;
    char key_id[GF_KEY_ID_LEN + 1];
    unsigned char sig[GF_SIG_LEN];
};

/* Key id of a public key into out (cap >= 33). */
void gf_key_id(const unsigned char pk[GF_PUBKEY_LEN], char *out, size_t cap);

/* Parse 64 hex characters into pk. GF_ERR_INVAL. */
enum gf_err gf_pubkey_parse(const char *hex, unsigned char pk[GF_PUBKEY_LEN]);

/* Detached signature of data[0..len) with sk. */
void gf_sign_detached(const unsigned char sk[GF_SECKEY_LEN], const void *data, size_t len,
                      unsigned char sig[GF_SIG_LEN]);

/* 1 if sig is pk's signature of data[0..len). */
int gf_sign_verify(const unsigned char pk[GF_PUBKEY_LEN], const void *data, size_t len,
                   const unsigned char sig[GF_SIG_LEN]);

/* Envelope text for bytes signed by key_id with sig. Caller frees *out (gf_free). */
enum gf_err gf_envelope_encode(const void *bytes, size_t len, const char *key_id,
                               const unsigned char sig[GF_SIG_LEN], char **out, size_t *outlen);

/* Decode envelope text (strict: exactly the three members). Does not verify. On error
 * *reason is GF_REJECT_MALFORMED. Free e->bytes with gf_free (set to NULL on error). */
enum gf_err gf_envelope_decode(const char *text, size_t len, struct gf_envelope *e,
                               enum gf_reject *reason, struct gf_diag *diag);

/* Check e against trust: its key id is in trust (else GF_REJECT_UNKNOWN_KEY) and the
 * signature verifies with that key (else GF_REJECT_SIGNATURE). GF_OK or GF_ERR_CRYPTO. */
enum gf_err gf_trust_check(const struct gf_trust *trust, const struct gf_envelope *e,
                           enum gf_reject *reason);

/* Decode and check a trust statement's exact bytes (strict like the manifest: schema, type,
 * project uuid, seq >= 1, 1..8 keys whose key_id matches their public key, no duplicates).
 * GF_ERR_PARSE / GF_ERR_INVAL with *reason (GF_REJECT_MALFORMED or GF_REJECT_SCHEMA). */
enum gf_err gf_trust_decode(const char *data, size_t len, struct gf_trust *out,
                            enum gf_reject *reason, struct gf_diag *diag);

/* Build the canonical bytes of t (created_us formatted as RFC 3339 UTC, whole seconds).
 * Caller frees *out (gf_free). */
enum gf_err gf_trust_encode(const struct gf_trust *t, char **out, size_t *outlen);

/* Advance cur by the next statement e: decoded statement for the same project, with
 * seq == cur->seq + 1, signed by a key of cur. On success *cur is replaced. Otherwise cur is
 * unchanged and *reason is GF_REJECT_TRUST (wrong signer or seq), GF_REJECT_PROJECT,
 * GF_REJECT_SIGNATURE or GF_REJECT_MALFORMED. */
enum gf_err gf_trust_advance(struct gf_trust *cur, const struct gf_envelope *e,
                             enum gf_reject *reason, struct gf_diag *diag);

#endif
