/* SPDX-License-Identifier: Apache-2.0
 *
 * test_password.c - argon2id hashes verify, differ per call (salted), reject wrong
 * passwords; unknown accounts take the dummy path; policy bounds.
 */
#include "core/password.h"
#include "gf_test.h"
#include "ids.h"

int main(void)
{
    char h1[GF_PASSWORD_HASH_MAX], h2[GF_PASSWORD_HASH_MAX], gen[32];
    struct gf_diag d;

    CHECK(gf_ids_init() == GF_OK);
    CHECK(gf_password_hash("correct horse battery", h1, sizeof(h1)) == GF_OK);
    CHECK(gf_password_hash("correct horse battery", h2, sizeof(h2)) == GF_OK);
    CHECK(strncmp(h1, "$argon2id$", 10) == 0);
    CHECK(strcmp(h1, h2) != 0);
    CHECK(gf_password_verify(h1, "correct horse battery") == 1);
    CHECK(gf_password_verify(h1, "correct horse batterx") == 0);
    CHECK(gf_password_verify(NULL, "anything") == 0);
    gf_password_generate(gen, sizeof(gen));
    CHECK(strlen(gen) == 20);
    CHECK(gf_password_check(gen, "/password", &d) == GF_OK);
    CHECK(gf_password_check("short", "/password", &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/password");
    return gf_test_summary("test_password");
}
