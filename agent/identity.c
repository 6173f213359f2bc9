/* SPDX-License-Identifier: Apache-2.0
 *
 * identity.c - create, load and check the node's Ed25519 key pair.
 */
#define GF_LOG_MODULE "identity"
#include "identity.h"

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "ids.h"
#include "log.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct gf_identity {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

static enum gf_err read_exact(const char *path, unsigned char *out, size_t n)
{
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, n + 1);
    err = gf_file_read(path, &b);
    if (err == GF_OK && b.len != n) {
        err = GF_ERR_CRYPTO;
    }
    if (err == GF_OK) {
        memcpy(out, b.data, n);
    }
    if (b.data != NULL) {
        sodium_memzero(b.data, b.len);
    }
    gf_buf_free(&b);
    return err == GF_ERR_TOOBIG ? GF_ERR_CRYPTO : err;
}

static enum gf_err create(struct gf_identity *id, const char *kpath, const char *ppath,
                          struct gf_diag *diag)
{
    crypto_sign_keypair(id->pk, id->sk);
    /* Public half first: a crash between the two writes leaves no secret key, so the next
     * start makes a fresh pair instead of trusting a half-written identity. */
    if (gf_file_write_atomic(ppath, id->pk, sizeof(id->pk), 0644) != GF_OK ||
        gf_file_write_atomic(kpath, id->sk, sizeof(id->sk), 0600) != GF_OK) {
        return gf_diag_set(diag, GF_ERR_IO, "state_dir", "cannot write the identity in %s",
                           kpath);
    }
    gf_log_info("created node identity", "path=%s", kpath);
    return GF_OK;
}

enum gf_err gf_identity_load(const char *state_dir, struct gf_identity **out, int *created,
                             struct gf_diag *diag)
{
    char kpath[PATH_MAX], ppath[PATH_MAX];
    unsigned char derived[crypto_sign_PUBLICKEYBYTES];
    struct gf_identity *id;
    struct stat st;
    enum gf_err err;

    if (snprintf(kpath, sizeof(kpath), "%s/identity.key", state_dir) >= (int)sizeof(kpath) ||
        snprintf(ppath, sizeof(ppath), "%s/identity.pub", state_dir) >= (int)sizeof(ppath)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "state_dir", "state_dir path too long");
    }
    id = sodium_malloc(sizeof(*id));
    if (id == NULL) {
        return GF_ERR_NOMEM;
    }
    if (created != NULL) {
        *created = 0;
    }
    err = read_exact(kpath, id->sk, sizeof(id->sk));
    if (err == GF_ERR_NOTFOUND) {
        err = create(id, kpath, ppath, diag);
        if (err == GF_OK && created != NULL) {
            *created = 1;
        }
        goto out;
    }
    if (err != GF_OK) {
        err = gf_diag_set(diag, err == GF_ERR_CRYPTO ? GF_ERR_CRYPTO : GF_ERR_IO, "state_dir",
                          "identity key %s is unreadable or has the wrong size", kpath);
        goto out;
    }
    if (stat(kpath, &st) == 0 && (st.st_mode & 077) != 0) {
        err = gf_diag_set(diag, GF_ERR_CONFIG, "state_dir",
                          "identity key %s must not be readable by group or others (chmod 600)",
                          kpath);
        goto out;
    }
    crypto_sign_ed25519_sk_to_pk(derived, id->sk);
    err = read_exact(ppath, id->pk, sizeof(id->pk));
    if (err == GF_ERR_NOTFOUND) {
        memcpy(id->pk, derived, sizeof(derived)); /* rewrite a lost public half */
        err = gf_file_write_atomic(ppath, id->pk, sizeof(id->pk), 0644);
    } else if (err != GF_OK || sodium_memcmp(id->pk, derived, sizeof(derived)) != 0) {
        err = gf_diag_set(diag, GF_ERR_CRYPTO, "state_dir",
                          "identity.pub does not match identity.key in %s", state_dir);
    }
out:
    if (err != GF_OK) {
        sodium_free(id);
        return err;
    }
    *out = id;
    return GF_OK;
}

void gf_identity_free(struct gf_identity *id)
{
    if (id != NULL) {
        sodium_free(id); /* wipes */
    }
}

const unsigned char *gf_identity_public(const struct gf_identity *id)
{
    return id->pk;
}

void gf_identity_public_text(const struct gf_identity *id, char *out, size_t cap)
{
    gf_b64url_encode(out, cap, id->pk, sizeof(id->pk));
}

void gf_identity_sign(const struct gf_identity *id, const void *msg, size_t len,
                      unsigned char sig[GF_IDENTITY_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int gf_identity_verify(const unsigned char pk[GF_IDENTITY_PK_BYTES], const void *msg, size_t len,
                       const unsigned char sig[GF_IDENTITY_SIG_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}
