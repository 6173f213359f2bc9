/* SPDX-License-Identifier: Apache-2.0
 *
 * ids.h - identifiers and secrets as text: UUID checks, random tokens, hex and base64url,
 * SHA-256 digests and constant-time comparison (libsodium underneath), and a stable hash of
 * an id for partitioning.
 *
 * All functions are thread-safe once gf_ids_init() has returned.
 */
#ifndef GF_COMMON_IDS_H
#define GF_COMMON_IDS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define GF_UUID_LEN 36
#define GF_SHA256_HEX_LEN 64

/* FNV-1a of s: the same for the same id in every process (nodes partitioned among lanes,
 * sessions or buckets keep their place). Not for anything an attacker may choose to collide
 * where that would matter. */
uint32_t gf_hash_str(const char *s);

/* Initialise libsodium. GF_ERR_CRYPTO if it cannot. Safe to call more than once. */
enum gf_err gf_ids_init(void);

/* 1 if s is a canonical lower- or upper-case UUID (8-4-4-4-12 hex). */
int gf_uuid_valid(const char *s);

/* Fill out (cap >= GF_UUID_LEN + 1) with a random (v4) UUID. */
void gf_uuid_random(char *out, size_t cap);

/* n random bytes as base64url without padding into out (cap >= 4*n/3 + 2). */
void gf_random_b64url(char *out, size_t cap, size_t n);

/* Encode n bytes as lower-case hex into out (cap >= 2n + 1). */
void gf_hex_encode(char *out, size_t cap, const unsigned char *in, size_t n);

/* SHA-256 of s[0..n) as 64 hex characters into out (cap >= 65). */
void gf_sha256_hex(char *out, size_t cap, const void *s, size_t n);

/* A bearer secret the server keeps only as a hash: "<kind>" + 40 base64url characters
 * (240 random bits) into secret (cap >= 64), its first 12 characters into shown (cap >= 13,
 * what lists display) and its SHA-256 hex into hash (cap >= 65). */
void gf_secret_token(const char *kind, char *secret, size_t cap, char *shown, size_t shown_cap,
                     char *hash, size_t hash_cap);

/* Constant-time comparison of two NUL-terminated strings (length leaks, content does not). */
int gf_secure_streq(const char *a, const char *b);

/* Decode base64url (no padding) into out; returns decoded length or -1. */
long gf_b64url_decode(unsigned char *out, size_t cap, const char *in);

/* Encode n bytes as base64url without padding. */
void gf_b64url_encode(char *out, size_t cap, const unsigned char *in, size_t n);

#define GF_UNIT_NAME_MAX 128 /* characters of a systemd unit name */

/* 1 if u is a systemd unit name as gatefleet accepts one on both sides (log streams, the
 * logs.tail command): 1 to GF_UNIT_NAME_MAX characters of A-Z a-z 0-9 @ . _ : -, not
 * starting with '-' (it would read as an option of journalctl). */
int gf_unit_name_ok(const char *u);

#endif
