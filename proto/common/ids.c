/* SPDX-License-Identifier: Apache-2.0
 *
 * ids.c - UUIDs, random tokens and digests over libsodium.
 */
#include "ids.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

enum gf_err gf_ids_init(void)
{
    return sodium_init() < 0 ? GF_ERR_CRYPTO : GF_OK;
}

int gf_uuid_valid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};

    if (s == NULL || strlen(s) != GF_UUID_LEN) {
        return 0;
    }
    for (int i = 0; i < GF_UUID_LEN; i++) {
        int is_dash_pos = (i == dash[0] || i == dash[1] || i == dash[2] || i == dash[3]);
        char c = s[i];
        if (is_dash_pos) {
            if (c != '-') {
                return 0;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

void gf_uuid_random(char *out, size_t cap)
{
    unsigned char b[16];
    char hex[33];

    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    gf_hex_encode(hex, sizeof(hex), b, sizeof(b));
    snprintf(out, cap, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void gf_b64url_encode(char *out, size_t cap, const unsigned char *in, size_t n)
{
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

long gf_b64url_decode(unsigned char *out, size_t cap, const char *in)
{
    size_t len = 0;

    if (sodium_base642bin(out, cap, in, strlen(in), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        return -1;
    }
    return (long)len;
}

void gf_random_b64url(char *out, size_t cap, size_t n)
{
    unsigned char b[64];

    if (n > sizeof(b)) {
        n = sizeof(b);
    }
    randombytes_buf(b, n);
    gf_b64url_encode(out, cap, b, n);
    sodium_memzero(b, sizeof(b));
}

void gf_hex_encode(char *out, size_t cap, const unsigned char *in, size_t n)
{
    sodium_bin2hex(out, cap, in, n);
}

void gf_sha256_hex(char *out, size_t cap, const void *s, size_t n)
{
    unsigned char d[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(d, s, n);
    gf_hex_encode(out, cap, d, sizeof(d));
}

int gf_secure_streq(const char *a, const char *b)
{
    size_t la = strlen(a);

    if (la != strlen(b)) {
        return 0;
    }
    return la == 0 || sodium_memcmp(a, b, la) == 0;
}

void gf_secret_token(const char *kind, char *secret, size_t cap, char *shown, size_t shown_cap,
                     char *hash, size_t hash_cap)
{
    char rnd[48];

    gf_random_b64url(rnd, sizeof(rnd), 30);
    snprintf(secret, cap, "%s%s", kind, rnd);
    snprintf(shown, shown_cap, "%.12s", secret);
    gf_sha256_hex(hash, hash_cap, secret, strlen(secret));
}

uint32_t gf_hash_str(const char *s)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

int gf_unit_name_ok(const char *u)
{
    size_t n = strnlen(u, GF_UNIT_NAME_MAX + 1);

    return n >= 1 && n <= GF_UNIT_NAME_MAX && u[0] != '-' &&
           strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._:-") == n;
}
