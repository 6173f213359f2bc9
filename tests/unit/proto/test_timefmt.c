/* SPDX-License-Identifier: Apache-2.0
 *
 * test_timefmt.c - the strict RFC 3339 parser used for expires_at and audit filters.
 */
#include "gf_test.h"
#include "timefmt.h"

int main(void)
{
    int64_t t;

    CHECK(gf_time_parse_rfc3339("1970-01-01T00:00:00Z", &t) == GF_OK && t == 0);
    CHECK(gf_time_parse_rfc3339("2026-11-23T04:01:02.5Z", &t) == GF_OK &&
          t == 1795406462LL * 1000000 + 500000);
    CHECK(gf_time_parse_rfc3339("2026-11-23T06:01:02+02:00", &t) == GF_OK &&
          t == 1795406462LL * 1000000);
    CHECK(gf_time_parse_rfc3339("2026-11-23 04:01:02Z", &t) == GF_ERR_INVAL);
    CHECK(gf_time_parse_rfc3339("2026-13-01T00:00:00Z", &t) == GF_ERR_INVAL);
    CHECK(gf_time_parse_rfc3339("2026-02-30T00:00:00Z", &t) == GF_ERR_INVAL);
    CHECK(gf_time_parse_rfc3339("2026-11-23T04:01:02", &t) == GF_ERR_INVAL);
    CHECK(gf_time_parse_rfc3339("2026-11-23T04:01:02Zjunk", &t) == GF_ERR_INVAL);
    CHECK(gf_time_parse_rfc3339("'; DROP TABLE x; --", &t) == GF_ERR_INVAL);
    CHECK(gf_time_now_us() > 1700000000LL * 1000000);
    return gf_test_summary("test_timefmt");
}
