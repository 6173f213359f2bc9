/* SPDX-License-Identifier: Apache-2.0
 *
 * password.h - argon2id password hashing (libsodium crypto_pwhash, "interactive" limits:
 * 2 passes over 64 MiB) and generated passwords. Thread-safe after gf_ids_init().
 */
#ifndef GF_SERVER_PASSWORD_H
#define GF_SERVER_PASSWORD_H

#include "err.h"

#include <stddef.h>

#define GF_PASSWORD_HASH_MAX 128

/* Hash pw into out (cap >= GF_PASSWORD_HASH_MAX). GF_ERR_NOMEM when the 64 MiB cannot be had. */
enum gf_err gf_password_hash(const char *pw, char *out, size_t cap);

/* 1 if pw matches hash. With hash NULL, burns the same time against a dummy hash and returns
 * 0 (so unknown accounts cannot be told apart by timing). */
int gf_password_verify(const char *hash, const char *pw);

/* A random 20-character password (base64url, ~120 bits) into out (cap >= 32). */
void gf_password_generate(char *out, size_t cap);

/* Policy check: GF_ERR_INVAL with diag (where = field) when too short or too long. */
enum gf_err gf_password_check(const char *pw, const char *field, struct gf_diag *diag);

#endif
