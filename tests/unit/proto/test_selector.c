/* SPDX-License-Identifier: Apache-2.0
 *
 * test_selector.c - label selector compiler and matcher: the Kubernetes forms, their
 * semantics on labels with and without the key, and precise errors for bad text.
 */
#include "gf_test.h"
#include "selector.h"

#include <string.h>

static int matches(const char *sel, const char *labels_json)
{
    json_t *s = NULL, *labels = json_loads(labels_json, 0, NULL);
    struct gf_diag d;
    int r = -1;

    if (gf_selector_compile(sel, &s, &d) == GF_OK) {
        r = gf_selector_match(s, labels);
    }
    json_decref(s);
    json_decref(labels);
    return r;
}

static void compile_error(const char *sel, const char *needle)
{
    json_t *s = NULL;
    struct gf_diag d;

    gf_diag_clear(&d);
    CHECK(gf_selector_compile(sel, &s, &d) == GF_ERR_INVAL);
    CHECK(s == NULL);
    CHECK(strstr(d.msg, needle) != NULL);
}

int main(void)
{
    const char *n = "{\"site\":\"north\",\"role\":\"gate\",\"tier\":\"prod\"}";
    json_t *s = NULL;
    struct gf_diag d;

    CHECK(matches("", n) == 1);
    CHECK(matches("site=north", n) == 1);
    CHECK(matches("site==north", n) == 1);
    CHECK(matches("site=south", n) == 0);
    CHECK(matches("site!=south", n) == 1);
    CHECK(matches("zone!=a", n) == 1); /* ne matches a missing key */
    CHECK(matches("role in (gate, regulator)", n) == 1);
    CHECK(matches("role in (regulator)", n) == 0);
    CHECK(matches("role notin (regulator)", n) == 1);
    CHECK(matches("zone notin (a)", n) == 1);
    CHECK(matches("!decommissioned", n) == 1);
    CHECK(matches("!site", n) == 0);
    CHECK(matches("tier", n) == 1);
    CHECK(matches("gps", n) == 0);
    CHECK(matches(" site = north , role in (gate,regulator) , !decommissioned ", n) == 1);
    CHECK(matches("site=north,tier=test", n) == 0);
    CHECK(matches("inside=x", "{\"inside\":\"x\"}") == 1); /* key starting with "in" */
    CHECK(matches("a=", "{\"a\":\"\"}") == 1);           /* empty value */

    CHECK(gf_selector_compile("role in (a,b),x", &s, &d) == GF_OK);
    CHECK(json_array_size(s) == 2);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(s, 0), "op")), "in") == 0);
    CHECK(json_array_size(json_object_get(json_array_get(s, 0), "values")) == 2);
    json_decref(s);

    compile_error("site=north,", "after ','");
    compile_error("=x", "expected a label key");
    compile_error("role in gate", "expected '('");
    compile_error("role in (gate", "expected ',' or ')'");
    compile_error("role in ()", "expected a value");
    compile_error("a=b c=d", "expected ','");
    compile_error("a=b;c", "expected ','");
    compile_error("a=" "0123456789012345678901234567890123456789012345678901234567890123", "longer");

    json_t *ok = json_loads("{\"site\":\"north\",\"a.b/c\":\"\"}", 0, NULL);
    json_t *bad_key = json_loads("{\"-x\":\"y\"}", 0, NULL);
    json_t *bad_val = json_loads("{\"x\":\"a b\"}", 0, NULL);
    json_t *bad_type = json_loads("{\"x\":1}", 0, NULL);
    CHECK(gf_labels_check(ok, "/labels", &d) == GF_OK);
    CHECK(gf_labels_check(bad_key, "/labels", &d) == GF_ERR_INVAL);
    CHECK(strcmp(d.where, "/labels") == 0);
    CHECK(gf_labels_check(bad_val, "/labels", &d) == GF_ERR_INVAL);
    CHECK(strstr(d.msg, "/labels/x") != NULL);
    CHECK(gf_labels_check(bad_type, "/labels", &d) == GF_ERR_INVAL);
    json_decref(ok);
    json_decref(bad_key);
    json_decref(bad_val);
    json_decref(bad_type);
    return gf_test_summary("test_selector");
}
