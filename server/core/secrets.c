/* SPDX-License-Identifier: Apache-2.0
 *
 * secrets.c - sealing and derivation under the master key (see secrets.h).
 */
#include "secrets.h"

#include "ids.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SEAL_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
#define SEAL_MAX 1024

enum gf_err gf_secret_seal(const unsigned char key[32], const void *plain, size_t len, char *out,
                           size_t cap)
{
    unsigned char box[SEAL_MAX + SEAL_OVERHEAD];

    if (len > SEAL_MAX || cap < 2 + 2 * (len + SEAL_OVERHEAD) + 1) {
        return GF_ERR_TOOBIG;
    }
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, len, box, key);
    out[0] = '\\';
    out[1] = 'x';
    gf_hex_encode(out + 2, cap - 2, box, len + SEAL_OVERHEAD);
    sodium_memzero(box, sizeof(box));
    return GF_OK;
}

enum gf_err gf_secret_open(const unsigned char key[32], const char *sealed, char *out,
                           size_t cap)
{
    unsigned char box[SEAL_MAX + SEAL_OVERHEAD];
    size_t blen;

    if (sealed == NULL || strncmp(sealed, "\\x", 2) != 0 ||
        sodium_hex2bin(box, sizeof(box), sealed + 2, strlen(sealed + 2), NULL, &blen, NULL) != 0 ||
        blen < SEAL_OVERHEAD) {
        return GF_ERR_CRYPTO;
    }
    if (blen - SEAL_OVERHEAD + 1 > cap) {
        return GF_ERR_TOOBIG;
    }
    if (crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, key) != 0) {
        return GF_ERR_CRYPTO;
    }
    out[blen - SEAL_OVERHEAD] = '\0';
    return GF_OK;
}

void gf_secret_derive(const unsigned char key[32], const char *purpose, const char *id,
                      long generation, char *out, size_t cap)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    char gen[24];

    snprintf(gen, sizeof(gen), "%ld", generation);
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)purpose, strlen(purpose) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)gen, strlen(gen));
    crypto_auth_hmacsha256_final(&st, mac);
    gf_b64url_encode(out, cap, mac, 24);
    sodium_memzero(mac, sizeof(mac));
}
