/* SPDX-License-Identifier: Apache-2.0
 *
 * gatefleet-sign.c - offline signing tool for operators. It keeps the project's Ed25519
 * signing key away from the server: keys are generated and used on an offline machine, and
 * only public keys, signatures and envelopes (proto/bundle/sign.h) leave it.
 *
 *   gatefleet-sign keygen SECRET_FILE           new key (128 hex + newline, mode 0600)
 *   gatefleet-sign pubkey SECRET_FILE           {"key_id":..,"public_key":..}
 *   gatefleet-sign sign SECRET_FILE [FILE]      {"key_id":..,"signature":..} over FILE/stdin
 *   gatefleet-sign envelope SECRET_FILE [FILE]  the signed envelope of FILE/stdin
 *
 * The exact bytes read are signed; nothing is re-serialised. keygen refuses to overwrite an
 * existing file (a lost signing key means a trust rotation). Exit 0 on success, 1 on failure,
 * 2 on usage errors.
 */
#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "ids.h"
#include "manifest.h"
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_FILE_MAX 256u

static int usage(const char *msg)
{
    if (msg != NULL) {
        fprintf(stderr, "gatefleet-sign: %s\n", msg);
    }
    fprintf(stderr, "usage: gatefleet-sign keygen SECRET_FILE\n"
                    "       gatefleet-sign pubkey SECRET_FILE\n"
                    "       gatefleet-sign sign SECRET_FILE [FILE]\n"
                    "       gatefleet-sign envelope SECRET_FILE [FILE]\n"
                    "FILE defaults to standard input; its exact bytes are signed.\n");
    return 2;
}

static int failed(const char *what, const char *path, enum gf_err err)
{
    fprintf(stderr, "gatefleet-sign: %s %s: %s\n", what, path, gf_err_str(err));
    return 1;
}

static void print_pubkey(const unsigned char pk[GF_PUBKEY_LEN])
{
    char kid[GF_KEY_ID_LEN + 1], hex[2 * GF_PUBKEY_LEN + 1];

    gf_key_id(pk, kid, sizeof(kid));
    gf_hex_encode(hex, sizeof(hex), pk, GF_PUBKEY_LEN);
    printf("{\"key_id\":\"%s\",\"public_key\":\"%s\"}\n", kid, hex);
}

/* Read a secret file: 128 lower-case hex characters, optionally one newline; the key must
 * be consistent (its public half derives from its seed). */
static int load_secret(const char *path, unsigned char sk[GF_SECKEY_LEN])
{
    unsigned char seed[crypto_sign_SEEDBYTES], pk[GF_PUBKEY_LEN], sk2[GF_SECKEY_LEN];
    struct gf_buf b;
    enum gf_err err;
    size_t n = 0;
    int rc = 1;

    gf_buf_init(&b, SECRET_FILE_MAX);
    err = gf_file_read(path, &b);
    if (err != GF_OK) {
        failed("cannot read secret key", path, err);
        goto out;
    }
    if (b.len == 2 * GF_SECKEY_LEN + 1 && b.data[b.len - 1] == '\n') {
        b.data[--b.len] = '\0';
    }
    if (b.len != 2 * GF_SECKEY_LEN || strspn(b.data, "0123456789abcdef") != b.len ||
        sodium_hex2bin(sk, GF_SECKEY_LEN, b.data, b.len, NULL, &n, NULL) != 0 ||
        n != GF_SECKEY_LEN) {
        fprintf(stderr, "gatefleet-sign: %s: not a secret key (128 lower-case hex)\n", path);
        goto out;
    }
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(pk, sk2, seed);
    if (sodium_memcmp(sk, sk2, GF_SECKEY_LEN) != 0) {
        fprintf(stderr, "gatefleet-sign: %s: damaged secret key\n", path);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk2, sizeof(sk2));
    if (b.data != NULL) {
        sodium_memzero(b.data, b.alloc);
    }
    gf_buf_free(&b);
    return rc;
}

static int cmd_keygen(const char *path)
{
    unsigned char pk[GF_PUBKEY_LEN], sk[GF_SECKEY_LEN];
    char hex[2 * GF_SECKEY_LEN + 2];
    struct stat st;
    enum gf_err err;

    if (lstat(path, &st) == 0 || errno != ENOENT) {
        fprintf(stderr, "gatefleet-sign: %s exists; refusing to overwrite a key\n", path);
        return 1;
    }
    crypto_sign_keypair(pk, sk);
    gf_hex_encode(hex, sizeof(hex), sk, GF_SECKEY_LEN);
    hex[2 * GF_SECKEY_LEN] = '\n';
    hex[2 * GF_SECKEY_LEN + 1] = '\0';
    err = gf_file_write_atomic(path, hex, 2 * GF_SECKEY_LEN + 1, 0600);
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(sk, sizeof(sk));
    if (err != GF_OK) {
        return failed("cannot write", path, err);
    }
    print_pubkey(pk);
    return 0;
}

/* Exact bytes of path, or of standard input when path is NULL, into b. */
static int read_input(const char *path, struct gf_buf *b)
{
    char chunk[8192];
    enum gf_err err = GF_OK;

    if (path != NULL) {
        err = gf_file_read(path, b);
        return err == GF_OK ? 0 : failed("cannot read", path, err);
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return failed("cannot read", "standard input", GF_ERR_IO);
        }
        if (n == 0) {
            return 0;
        }
        err = gf_buf_append(b, chunk, (size_t)n);
        if (err != GF_OK) {
            return failed("cannot read", "standard input", err);
        }
    }
}

static int cmd_sign(const char *secret, const char *input, int want_envelope)
{
    unsigned char sk[GF_SECKEY_LEN], pk[GF_PUBKEY_LEN], sig[GF_SIG_LEN];
    char kid[GF_KEY_ID_LEN + 1], hex[2 * GF_SIG_LEN + 1];
    char *env = NULL;
    size_t envlen = 0;
    struct gf_buf b;
    enum gf_err err;
    int rc = 1;

    gf_buf_init(&b, GF_MANIFEST_MAX_BYTES);
    if (load_secret(secret, sk) != 0 || read_input(input, &b) != 0) {
        goto out;
    }
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    gf_key_id(pk, kid, sizeof(kid));
    gf_sign_detached(sk, b.data != NULL ? b.data : "", b.len, sig);
    if (!want_envelope) {
        gf_hex_encode(hex, sizeof(hex), sig, GF_SIG_LEN);
        printf("{\"key_id\":\"%s\",\"signature\":\"%s\"}\n", kid, hex);
        rc = 0;
        goto out;
    }
    err = gf_envelope_encode(b.data != NULL ? b.data : "", b.len, kid, sig, &env, &envlen);
    if (err != GF_OK) {
        failed("cannot build the envelope of", input ? input : "standard input", err);
        goto out;
    }
    if (fwrite(env, 1, envlen, stdout) != envlen || fputc('\n', stdout) == EOF) {
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(sk, sizeof(sk));
    gf_free(env);
    gf_buf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    unsigned char sk[GF_SECKEY_LEN], pk[GF_PUBKEY_LEN];
    int rc;

    if (cmd == NULL) {
        return usage("missing command");
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(NULL);
        return 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "gatefleet-sign: libsodium cannot start\n");
        return 1;
    }
    if (strcmp(cmd, "keygen") == 0 || strcmp(cmd, "pubkey") == 0) {
        if (argc != 3) {
            return usage("keygen and pubkey take exactly one SECRET_FILE");
        }
        if (cmd[0] == 'k') {
            rc = cmd_keygen(argv[2]);
        } else if ((rc = load_secret(argv[2], sk)) == 0) {
            crypto_sign_ed25519_sk_to_pk(pk, sk);
            sodium_memzero(sk, sizeof(sk));
            print_pubkey(pk);
        }
    } else if (strcmp(cmd, "sign") == 0 || strcmp(cmd, "envelope") == 0) {
        if (argc != 3 && argc != 4) {
            return usage("sign and envelope take SECRET_FILE and an optional FILE");
        }
        rc = cmd_sign(argv[2], argc == 4 ? argv[3] : NULL, cmd[0] == 'e');
    } else {
        return usage("unknown command");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gatefleet-sign: cannot write standard output\n");
        return 1;
    }
    return rc;
}
