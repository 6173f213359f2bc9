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

    /* Allocation failures inside our own code paths return errors cleanly. */
    for (long k = 0; k < 10; k++) {
        gf_alloc_fail_after(k);
        enum gf_err err = check("{\"name\": \"abc\"}", &d);
        gf_alloc_fail_after(-1);
        CHECK(err == GF_OK || err == GF_ERR_NOMEM || err == GF_ERR_PARSE);
    }
    return gf_test_summary("test_json");
}
