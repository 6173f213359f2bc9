/* SPDX-License-Identifier: Apache-2.0
 *
 * test_identity.c - the node identity: created once with 0600, reloaded identically,
 * signatures verify and fail when tampered, mismatched or oversized files are refused, a
 * lost public half is rebuilt, a world-readable key is refused.
 */
#include "gf_test.h"
#include "identity.h"
#include "ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    char dir[] = "/tmp/gf_identity_XXXXXX";
    char path[256], t1[64], t2[64];
    struct gf_identity *a = NULL, *b = NULL;
    struct gf_diag d;
    struct stat st;
    unsigned char sig[GF_IDENTITY_SIG_BYTES];
    int created = -1;

    CHECK(gf_ids_init() == GF_OK);
    CHECK(mkdtemp(dir) != NULL);
    CHECK(gf_identity_load(dir, &a, &created, &d) == GF_OK && created == 1);
    snprintf(path, sizeof(path), "%s/identity.key", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 64);
    CHECK(gf_identity_load(dir, &b, &created, &d) == GF_OK && created == 0);
    gf_identity_public_text(a, t1, sizeof(t1));
    gf_identity_public_text(b, t2, sizeof(t2));
    CHECK_STR(t1, t2);
    CHECK(strlen(t1) == 43);

    gf_identity_sign(a, "hello", 5, sig);
    CHECK(gf_identity_verify(gf_identity_public(b), "hello", 5, sig));
    CHECK(!gf_identity_verify(gf_identity_public(b), "hellO", 5, sig));
    sig[0] ^= 1;
    CHECK(!gf_identity_verify(gf_identity_public(b), "hello", 5, sig));
    gf_identity_free(b);
    b = NULL;

    /* Lost public half: rebuilt from the secret key. */
    snprintf(path, sizeof(path), "%s/identity.pub", dir);
    CHECK(unlink(path) == 0);
    CHECK(gf_identity_load(dir, &b, &created, &d) == GF_OK && created == 0);
    gf_identity_public_text(b, t2, sizeof(t2));
    CHECK_STR(t1, t2);
    gf_identity_free(b);
    b = NULL;

    /* A public key that is not the secret key's: refused. */
    FILE *f = fopen(path, "wb");
    fwrite("0123456789abcdef0123456789abcdef", 1, 32, f);
    fclose(f);
    CHECK(gf_identity_load(dir, &b, &created, &d) == GF_ERR_CRYPTO);
    CHECK(b == NULL);
    CHECK(strstr(d.msg, "does not match") != NULL);

    /* Wrong size secret key: refused, not truncated or padded. */
    snprintf(path, sizeof(path), "%s/identity.key", dir);
    f = fopen(path, "ab");
    fputc('x', f);
    fclose(f);
    CHECK(gf_identity_load(dir, &b, &created, &d) == GF_ERR_CRYPTO);

    /* World-readable secret key: refused. */
    char dir2[] = "/tmp/gf_identity_XXXXXX";
    CHECK(mkdtemp(dir2) != NULL);
    CHECK(gf_identity_load(dir2, &b, NULL, &d) == GF_OK);
    gf_identity_free(b);
    b = NULL;
    snprintf(path, sizeof(path), "%s/identity.key", dir2);
    CHECK(chmod(path, 0644) == 0);
    CHECK(gf_identity_load(dir2, &b, NULL, &d) == GF_ERR_CONFIG);

    /* Unwritable state dir: an error, not a crash. */
    CHECK(gf_identity_load("/nonexistent/dir", &b, NULL, &d) == GF_ERR_IO);

    gf_identity_free(a);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, dir2);
    CHECK(system(cmd) == 0);
    return gf_test_summary("test_identity");
}
