/* SPDX-License-Identifier: Apache-2.0
 *
 * test_json.c - strict JSON input: malformed bodies, duplicate keys, invalid UTF-8,
 * non-object roots, depth cap, unknown fields, types, lengths in code points, and
 * allocation failures during parsing.
 */
#include "alloc.h"
#include "gf_test.h"
#include "json.h"

static const struct gf_json_field fields[] = {
    {"name", GF_JSON_STRING, 1, 0, 1, 5, 0, 0},
    {"count", GF_JSON_INT, 0, 0, 0, 0, 1, 10},
    {"on", GF_JSON_BOOL, 0, 1, 0, 0, 0, 0},
};

static enum gf_err check(const char *text, struct gf_diag *d)
{
    json_t *o = NULL;
    enum gf_err err = gf_json_parse_object(text, strlen(text), &o, d);

    if (err == GF_OK) {
        err = gf_json_check(o, fields, 3, "", d);
    }
    json_decref(o);
    return err;
}

int main(void)
{
    struct gf_diag d;

    CHECK(check("{\"name\": \"abc\", \"count\": 3, \"on\": null}", &d) == GF_OK);
    CHECK(check("{\"name\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &d) == GF_OK); /* 5 chars */
    CHECK(check("{\"name\": \"abcdef\"}", &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/name");
    CHECK(check("{\"name\": \"\"}", &d) == GF_ERR_INVAL);
    CHECK(check("{\"count\": 3}", &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/name");
    CHECK(strstr(d.msg, "required") != NULL);
    CHECK(check("{\"name\": \"a\", \"extra\": 1}", &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/extra");
    CHECK(check("{\"name\": 5}", &d) == GF_ERR_INVAL);
    CHECK(strstr(d.msg, "string") != NULL);
    CHECK(check("{\"name\": \"a\", \"count\": 11}", &d) == GF_ERR_INVAL);
    CHECK(check("{\"name\": \"a\", \"count\": \"3\"}", &d) == GF_ERR_INVAL);
    CHECK(check("{\"name\": null}", &d) == GF_ERR_INVAL);
    CHECK(check("{\"name\": \"a\", \"name\": \"b\"}", &d) == GF_ERR_PARSE);
    CHECK(check("{\"name\": \"a\"", &d) == GF_ERR_PARSE);
    CHECK(strstr(d.msg, "line") != NULL);
    CHECK(check("[1]", &d) == GF_ERR_INVAL);
    CHECK(check("{\"name\": \"\xff\"}", &d) == GF_ERR_PARSE);
    CHECK(check("{\"name\": \"a\\u0000b\"}", &d) == GF_ERR_PARSE); /* NUL rejected */
    CHECK(check("{\"name\": \"\xed\xa0\x80\"}", &d) == GF_ERR_PARSE); /* surrogate */
    CHECK(check("{\"name\": \"\xc0\xaf\"}", &d) == GF_ERR_PARSE);     /* overlong */

    char deep[200];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"name\":\"a\",\"x\":");
    for (int i = 0; i < 40; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < 40; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n] = '\0';
    CHECK(check(deep, &d) == GF_ERR_INVAL);
    CHECK(strstr(d.msg, "deeper") != NULL);

    CHECK(gf_utf8_len("h\xc3\xa9llo") == 5);
    CHECK(gf_utf8_valid("abc", 3) && !gf_utf8_valid("a\0c", 3));
    /* Sequences at the edges of Unicode table 3-7: each valid one and its near misses. */
    static const struct {
        const char *s;
        size_t n, len;
    } seqs[] = {
        {"A", 1, 1},
        {"\0", 1, 0},
        {"\x7f", 1, 1},
        {"\x80", 1, 0},     /* stray continuation */
        {"\xc2\x80", 2, 2}, /* U+0080 */
        {"\xc1\xbf", 2, 0}, /* overlong U+007F */
        {"\xdf\xbf", 2, 2},
        {"\xc2", 1, 0},         /* cut short */
        {"\xc2\x41", 2, 0},     /* no continuation */
        {"\xe0\xa0\x80", 3, 3}, /* U+0800 */
        {"\xe0\x9f\xbf", 3, 0}, /* overlong U+07FF */
        {"\xed\x9f\xbf", 3, 3}, /* U+D7FF */
        {"\xed\xa0\x80", 3, 0}, /* surrogate U+D800 */
        {"\xef\xbf\xbf", 3, 3}, /* U+FFFF */
        {"\xe2\x82", 2, 0},     /* cut short */
        {"\xe2\x82\x41", 3, 0},
        {"\xf0\x90\x80\x80", 4, 4}, /* U+10000 */
        {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong */
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0}, /* no such lead byte */
        {"\xf0\x90\x80", 3, 0},     /* cut short */
        {"\xff", 1, 0},             /* never in UTF-8 */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        const unsigned char *u = (const unsigned char *)seqs[i].s;
        if (gf_utf8_seq(u, seqs[i].n) != seqs[i].len) {
            fprintf(stderr, "gf_utf8_seq case %zu\n", i);
        }
        CHECK(gf_utf8_seq(u, seqs[i].n) == seqs[i].len);
        CHECK(gf_utf8_valid(seqs[i].s, seqs[i].n) == (seqs[i].len == seqs[i].n));
    }
    CHECK(gf_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    CHECK(!gf_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98", 14));

    /* Allocation failures inside our own code paths return errors cleanly. */
    for (long k = 0; k < 10; k++) {
        gf_alloc_fail_after(k);
        enum gf_err err = check("{\"name\": \"abc\"}", &d);
        gf_alloc_fail_after(-1);
        CHECK(err == GF_OK || err == GF_ERR_NOMEM || err == GF_ERR_PARSE);
    }
    return gf_test_summary("test_json");
}
