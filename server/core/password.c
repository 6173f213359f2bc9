/* SPDX-License-Identifier: Apache-2.0
 *
 * password.c - argon2id hashing and verification.
 */
#include "password.h"

#include "ids.h"
#include "gf_limits.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy(void)
{
    if (crypto_pwhash_str_alg(dummy_hash, "gatefleet-dummy-password", 24,
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        dummy_hash[0] = '\0';
    }
}

enum gf_err gf_password_hash(const char *pw, char *out, size_t cap)
{
    char h[crypto_pwhash_STRBYTES];

    if (cap < sizeof(h)) {
        return GF_ERR_INVAL;
    }
    if (crypto_pwhash_str_alg(h, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return GF_ERR_NOMEM;
    }
    memcpy(out, h, sizeof(h));
    return GF_OK;
}

int gf_password_verify(const char *hash, const char *pw)
{
    if (hash == NULL) {
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0] != '\0') {
            volatile int sink = crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw));
            (void)sink;
        }
        return 0;
    }
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

void gf_password_generate(char *out, size_t cap)
{
    gf_random_b64url(out, cap, 15);
}

enum gf_err gf_password_check(const char *pw, const char *field, struct gf_diag *diag)
{
    size_t n = strlen(pw);

    if (n < GF_LIMIT_PASSWORD_MIN) {
        return gf_diag_set(diag, GF_ERR_INVAL, field, "%s must have at least %u characters",
                           field, GF_LIMIT_PASSWORD_MIN);
    }
    if (n > GF_LIMIT_PASSWORD_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, field, "%s must have at most %u bytes", field,
                           GF_LIMIT_PASSWORD_MAX);
    }
    return GF_OK;
}
