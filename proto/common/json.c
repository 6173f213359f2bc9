/* SPDX-License-Identifier: Apache-2.0
 *
 * json.c - strict JSON parsing and field-table validation on top of jansson.
 */
#include "json.h"

#include "gf_limits.h"

#include <stdio.h>
#include <string.h>

static int depth_ok(const json_t *v, int depth)
{
    if (depth > GF_LIMIT_JSON_DEPTH) {
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            if (!depth_ok(c, depth + 1)) {
                return 0;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *c;
        json_array_foreach(v, i, c) {
            if (!depth_ok(c, depth + 1)) {
                return 0;
            }
        }
    }
    return 1;
}

enum gf_err gf_json_parse_object(const char *data, size_t len, json_t **out,
                                 struct gf_diag *diag)
{
    json_error_t jerr;
    json_t *root;

    if (!gf_utf8_valid(data, len)) {
        return gf_diag_set(diag, GF_ERR_PARSE, "", "request body is not valid UTF-8");
    }
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return gf_diag_set(diag, GF_ERR_PARSE, "", "malformed JSON at line %d column %d: %s",
                           jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return gf_diag_set(diag, GF_ERR_INVAL, "", "request body must be a JSON object");
    }
    if (!depth_ok(root, 0)) {
        json_decref(root);
        return gf_diag_set(diag, GF_ERR_INVAL, "", "JSON nested deeper than %d levels",
                           GF_LIMIT_JSON_DEPTH);
    }
    *out = root;
    return GF_OK;
}

static const char *type_name(enum gf_json_type t)
{
    switch (t) {
    case GF_JSON_STRING:
        return "a string";
    case GF_JSON_BOOL:
        return "a boolean";
    case GF_JSON_INT:
        return "an integer";
    case GF_JSON_OBJECT:
        return "an object";
    case GF_JSON_ARRAY:
        return "an array";
    }
    return "?";
}

static int type_ok(const json_t *v, enum gf_json_type t)
{
    switch (t) {
    case GF_JSON_STRING:
        return json_is_string(v);
    case GF_JSON_BOOL:
        return json_is_boolean(v);
    case GF_JSON_INT:
        return json_is_integer(v);
    case GF_JSON_OBJECT:
        return json_is_object(v);
    case GF_JSON_ARRAY:
        return json_is_array(v);
    }
    return 0;
}

static enum gf_err check_value(const json_t *v, const struct gf_json_field *f, const char *where,
                               struct gf_diag *diag)
{
    if (json_is_null(v)) {
        if (f->nullable) {
            return GF_OK;
        }
        return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must not be null", where);
    }
    if (!type_ok(v, f->type)) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must be %s", where, type_name(f->type));
    }
    if (f->type == GF_JSON_STRING) {
        size_t bytes = json_string_length(v);
        const char *s = json_string_value(v);
        if (strlen(s) != bytes) {
            return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must not contain NUL", where);
        }
        size_t n = gf_utf8_len(s);
        if (n < f->min_len) {
            return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must have at least %zu characters",
                               where, f->min_len);
        }
        if (f->max_len > 0 && n > f->max_len) {
            return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must have at most %zu characters",
                               where, f->max_len);
        }
    } else if (f->type == GF_JSON_INT) {
        json_int_t i = json_integer_value(v);
        if ((f->min != 0 || f->max != 0) && (i < f->min || i > f->max)) {
            return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must be between %lld and %lld",
                               where, f->min, f->max);
        }
    }
    return GF_OK;
}

enum gf_err gf_json_check(const json_t *obj, const struct gf_json_field *fields, size_t nfields,
                          const char *prefix, struct gf_diag *diag)
{
    const char *key;
    const json_t *v;
    char where[128];

    json_object_foreach((json_t *)obj, key, v) {
        const struct gf_json_field *f = NULL;
        for (size_t i = 0; i < nfields; i++) {
            if (strcmp(fields[i].name, key) == 0) {
                f = &fields[i];
                break;
            }
        }
        snprintf(where, sizeof(where), "%s/%.100s", prefix, key);
        if (f == NULL) {
            return gf_diag_set(diag, GF_ERR_INVAL, where, "unknown field %s", where);
        }
        enum gf_err err = check_value(v, f, where, diag);
        if (err != GF_OK) {
            return err;
        }
    }
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].required && json_object_get(obj, fields[i].name) == NULL) {
            snprintf(where, sizeof(where), "%s/%s", prefix, fields[i].name);
            return gf_diag_set(diag, GF_ERR_INVAL, where, "%s is required", where);
        }
    }
    return GF_OK;
}

const char *gf_json_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

long long gf_json_int(const json_t *obj, const char *key, long long def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

int gf_json_bool(const json_t *obj, const char *key, int def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_boolean(v) ? json_is_true(v) : def;
}

int gf_json_has(const json_t *obj, const char *key)
{
    return json_object_get(obj, key) != NULL;
}

size_t gf_utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

size_t gf_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = n > 0 ? s[0] : 0, lo = 0x80, hi = 0xBF;
    size_t len;

    if (c >= 0x01 && c <= 0x7F) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* E0 A0..BF: no overlong form */
        hi = c == 0xED ? 0x9F : 0xBF; /* ED 80..9F: no surrogate */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80; /* F0 90..BF: no overlong form */
        hi = c == 0xF4 ? 0x8F : 0xBF; /* F4 80..8F: at most U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

int gf_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0, len; i < n; i += len) {
        if ((len = gf_utf8_seq(p + i, n - i)) == 0) {
            return 0;
        }
    }
    return 1;
}
