/* SPDX-License-Identifier: Apache-2.0
 *
 * secrets.h - what the server does with its master key: seal secrets at rest (broker admin
 * passwords, later signing keys) with XSalsa20-Poly1305 (libsodium secretbox, random nonce
 * stored in front), and derive per-object secrets that need no storage (a node's broker
 * password is HMAC-SHA256(master key, "broker-password" | node id | generation)).
 * Sealed values travel to PostgreSQL as bytea hex text ("\x..."). Thread-safe.
 */
#ifndef GF_SERVER_SECRETS_H
#define GF_SERVER_SECRETS_H

#include "err.h"

#include <stddef.h>

/* Seal len bytes of plain into out as bytea hex text "\x<hex>" (cap >= 2 + 2 * (len + 40) + 1).
 * GF_ERR_TOOBIG when out is too small. */
enum gf_err gf_secret_seal(const unsigned char key[32], const void *plain, size_t len, char *out,
                           size_t cap);

/* Open bytea hex text made by gf_secret_seal into out (NUL-terminated, cap includes the NUL).
 * GF_ERR_CRYPTO when it was not sealed with this key or was altered, GF_ERR_TOOBIG. */
enum gf_err gf_secret_open(const unsigned char key[32], const char *sealed, char *out,
                           size_t cap);

/* Derived secret text (base64url of 24 bytes of HMAC-SHA256 over purpose, id and generation),
 * cap >= 33. */
void gf_secret_derive(const unsigned char key[32], const char *purpose, const char *id,
                      long generation, char *out, size_t cap);

#endif
