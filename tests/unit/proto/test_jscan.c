/* SPDX-License-Identifier: Apache-2.0
 *
 * test_jscan.c - the validating JSON scanner: member walking, field readers, and every
 * rule that keeps text it passes on acceptable to PostgreSQL's jsonb (no \u0000, paired
 * surrogates, finite numbers, depth), cross-checked against jansson on a corpus of valid
 * and malformed documents (the two must agree, duplicate keys aside).
 */
#include "gf_test.h"
#include "jscan.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

static int scans(const char *text)
{
    struct gf_jscan s;
    struct gf_jval v;

    gf_jscan_init(&s, text, strlen(text));
    return gf_jscan_value(&s, &v) && gf_jscan_end(&s);
}

static int jansson_takes(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

    json_decref(j);
    return j != NULL;
}

static void walk(void)
{
    const char *doc = " {\"boot_id\": \"b-1\", \"session\": 7, \"records\": [{\"x\": [1, {}]}],"
                      " \"esc\\u0041\": \"a\\\"b\"} ";
    struct gf_jscan s;
    struct gf_jval k, v;
    size_t n = 0, len;
    long long x;
    int r, keys = 0;

    gf_jscan_init(&s, doc, strlen(doc));
    CHECK(gf_jscan_enter(&s, '{'));
    while ((r = gf_jscan_next(&s, '}', &n)) > 0) {
        CHECK(gf_jscan_key(&s, &k));
        CHECK(gf_jscan_value(&s, &v));
        keys++;
        if (gf_jval_is(&k, "boot_id")) {
            const char *b = gf_jval_plain(&v, 64, &len);
            CHECK(b != NULL && len == 3 && memcmp(b, "b-1", 3) == 0);
            CHECK(gf_jval_plain(&v, 2, &len) == NULL); /* longer than max */
        } else if (gf_jval_is(&k, "session")) {
            CHECK(gf_jval_int(&v, 0, 10, &x) && x == 7);
            CHECK(!gf_jval_int(&v, 8, 10, &x));
        } else if (gf_jval_is(&k, "records")) {
            CHECK(v.type == GF_J_ARRAY && v.len == strlen("[{\"x\": [1, {}]}]"));
        } else {
            CHECK(k.escaped && !gf_jval_is(&k, "escA")); /* escaped keys never match */
            CHECK(v.escaped && gf_jval_plain(&v, 64, &len) == NULL);
        }
    }
    CHECK(r == 0 && keys == 4 && gf_jscan_end(&s));
}

static void readers(void)
{
    struct gf_jscan s;
    struct gf_jval v;
    long long x;
    const char *cases[] = {"1.5", "1e3", "-0", "9223372036854775808", "\"7\""};
    int want[] = {0, 0, 1, 0, 0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gf_jscan_init(&s, cases[i], strlen(cases[i]));
        CHECK(gf_jscan_value(&s, &v));
        CHECK(gf_jval_int(&v, INT64_MIN, INT64_MAX, &x) == want[i]);
    }
}

int main(void)
{
    /* Valid for both. */
    const char *good[] = {
        "{}",
        "[]",
        "0",
        "-1.25e-3",
        "\"\"",
        "true",
        "false",
        "null",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\\n\"}",
        " [ 1 , \"x\" , [ ] ] ",
        "1E+2",
        "\"caf\xc3\xa9\"",
    };
    /* Malformed for both (or refused by jsonb, which jansson refuses too). */
    const char *bad[] = {
        "",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[1e]",
        "[+1]",
        "\"abc",
        "\"a\tb\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "[1e400]",
        "[tru]",
        "[nul]",
        "{} {}",
        "[1] x",
        "{\"a\":1 \"b\":2}",
        "[,1]",
        "{,}",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(scans(good[i]));
        CHECK(jansson_takes(good[i]));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (scans(bad[i])) {
            fprintf(stderr, "scanned but malformed: %s\n", bad[i]);
        }
        CHECK(!scans(bad[i]));
        CHECK(!jansson_takes(bad[i]));
    }

    /* Numbers: at most 64 characters. */
    char num[80];
    memset(num, '1', 64);
    num[64] = '\0';
    CHECK(scans(num));
    memset(num, '1', 65);
    num[65] = '\0';
    CHECK(!scans(num));

    /* Depth: GF_LIMIT_JSON_DEPTH (32) levels. */
    char deep[100];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    deep[64] = '\0';
    CHECK(scans(deep));
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    deep[66] = '\0';
    CHECK(!scans(deep));

    walk();
    readers();
    return gf_test_summary("test_jscan");
}
