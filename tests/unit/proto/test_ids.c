/* SPDX-License-Identifier: Apache-2.0
 *
 * test_ids.c - UUID validation (the path-parameter check), random ids, hashes, base64url,
 * constant-time comparison, systemd unit names.
 */
#include "gf_test.h"
#include "ids.h"

#include <string.h>

int main(void)
{
    char u[GF_UUID_LEN + 1], u2[GF_UUID_LEN + 1], h[65], b[64];
    unsigned char raw[32];

    CHECK(gf_ids_init() == GF_OK);
    CHECK(gf_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
    CHECK(gf_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
    CHECK(!gf_uuid_valid("123e4567e89b12d3a456426614174000"));
    CHECK(!gf_uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
    CHECK(!gf_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
    CHECK(!gf_uuid_valid("' OR 1=1 --"));
    CHECK(!gf_uuid_valid(""));
    gf_uuid_random(u, sizeof(u));
    gf_uuid_random(u2, sizeof(u2));
    CHECK(gf_uuid_valid(u) && strcmp(u, u2) != 0 && u[14] == '4');
    gf_sha256_hex(h, sizeof(h), "abc", 3);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gf_random_b64url(b, sizeof(b), 30);
    CHECK(strlen(b) == 40 && strpbrk(b, "+/=") == NULL);
    CHECK(gf_b64url_decode(raw, sizeof(raw), b) == 30);
    CHECK(gf_b64url_decode(raw, sizeof(raw), "!!") == -1);
    CHECK(gf_secure_streq("abc", "abc") && !gf_secure_streq("abc", "abd") &&
          !gf_secure_streq("abc", "ab"));
    /* Unit names: the characters systemd allows, 1..128 of them, no leading '-'. */
    char long_unit[GF_UNIT_NAME_MAX + 2];
    memset(long_unit, 'u', sizeof(long_unit) - 1);
    long_unit[sizeof(long_unit) - 1] = '\0';
    CHECK(gf_unit_name_ok("neuronex.service") && gf_unit_name_ok("getty@tty1.service"));
    CHECK(gf_unit_name_ok("a") && gf_unit_name_ok("sys-devices-x:y_z.device"));
    CHECK(!gf_unit_name_ok("") && !gf_unit_name_ok("-x.service"));
    CHECK(!gf_unit_name_ok("a b") && !gf_unit_name_ok("a;rm") && !gf_unit_name_ok("a/b"));
    CHECK(!gf_unit_name_ok(long_unit));
    long_unit[GF_UNIT_NAME_MAX] = '\0';
    CHECK(gf_unit_name_ok(long_unit));
    return gf_test_summary("test_ids");
}
