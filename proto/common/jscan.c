/* SPDX-License-Identifier: Apache-2.0
 *
 * jscan.c - the validating JSON scanner (see jscan.h). A recursive descent over the span:
 * containers recurse at most GF_LIMIT_JSON_DEPTH levels, strings and numbers are checked
 * token by token. Nothing is allocated and nothing is copied except a number's text (at
 * most 64 bytes, for strtod).
 */
#include "jscan.h"

#include "gf_limits.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GF_JSCAN_NUMBER_MAX 64

void gf_jscan_init(struct gf_jscan *s, const char *text, size_t len)
{
    s->p = text;
    s->end = text + len;
    s->depth = 0;
}

static void skip_ws(struct gf_jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return 0;
        }
    }
    *out = v;
    return 1;
}

/* A \uXXXX escape at p (after the backslash): how many bytes it and a low surrogate that
 * must follow a high one take, or 0 when invalid for jsonb. */
static size_t unicode_escape(const char *p, const char *end)
{
    unsigned cp, lo;

    if (end - p < 5 || !hex4(p + 1, &cp) || cp == 0) {
        return 0;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return 0; /* a low surrogate alone */
    }
    if (cp < 0xD800 || cp > 0xDBFF) {
        return 5;
    }
    if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || !hex4(p + 7, &lo) || lo < 0xDC00 ||
        lo > 0xDFFF) {
        return 0;
    }
    return 11;
}

static int scan_string(struct gf_jscan *s, struct gf_jval *v)
{
    const char *start = s->p;

    v->escaped = 0;
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            v->type = GF_J_STRING;
            v->text = start;
            v->len = (size_t)(s->p - start);
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c != '\\') {
            s->p++;
            continue;
        }
        v->escaped = 1;
        if (s->end - s->p < 2) {
            return 0;
        }
        char e = s->p[1];
        if (e == 'u') {
            size_t n = unicode_escape(s->p + 1, s->end);
            if (n == 0) {
                return 0;
            }
            s->p += 1 + n;
        } else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
            s->p += 2;
        } else {
            return 0;
        }
    }
    return 0;
}

static int digits(struct gf_jscan *s)
{
    const char *d = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > d;
}

static int scan_number(struct gf_jscan *s, struct gf_jval *v)
{
    const char *start = s->p;
    char tmp[GF_JSCAN_NUMBER_MAX + 1];

    if (*s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!digits(s)) {
        return 0;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s)) {
            return 0;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (!digits(s)) {
            return 0;
        }
    }
    size_t len = (size_t)(s->p - start);
    if (len > GF_JSCAN_NUMBER_MAX) {
        return 0;
    }
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    if (!isfinite(strtod(tmp, NULL))) {
        return 0;
    }
    v->type = GF_J_NUMBER;
    v->text = start;
    v->len = len;
    v->escaped = 0;
    return 1;
}

static int scan_word(struct gf_jscan *s, struct gf_jval *v, const char *w, enum gf_jtype t)
{
    size_t n = strlen(w);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) {
        return 0;
    }
    v->type = t;
    v->text = s->p;
    v->len = n;
    v->escaped = 0;
    s->p += n;
    return 1;
}

int gf_jscan_enter(struct gf_jscan *s, char open)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != open || s->depth >= (int)GF_LIMIT_JSON_DEPTH) {
        return 0;
    }
    s->p++;
    s->depth++;
    return 1;
}

int gf_jscan_next(struct gf_jscan *s, char close, size_t *n)
{
    skip_ws(s);
    if (s->p >= s->end) {
        return -1;
    }
    if (*s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    if (*n > 0) {
        if (*s->p != ',') {
            return -1;
        }
        s->p++;
        skip_ws(s);
        if (s->p >= s->end || *s->p == close) {
            return -1; /* a trailing comma */
        }
    }
    (*n)++;
    return 1;
}

int gf_jscan_key(struct gf_jscan *s, struct gf_jval *key)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"' || !scan_string(s, key)) {
        return 0;
    }
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':') {
        return 0;
    }
    s->p++;
    return 1;
}

static int scan_container(struct gf_jscan *s, struct gf_jval *v, char open, char close)
{
    const char *start;
    struct gf_jval k, inner;
    size_t n = 0;
    int r;

    skip_ws(s);
    start = s->p;
    if (!gf_jscan_enter(s, open)) {
        return 0;
    }
    while ((r = gf_jscan_next(s, close, &n)) > 0) {
        if ((close == '}' && !gf_jscan_key(s, &k)) || !gf_jscan_value(s, &inner)) {
            return 0;
        }
    }
    if (r < 0) {
        return 0;
    }
    v->type = open == '{' ? GF_J_OBJECT : GF_J_ARRAY;
    v->text = start;
    v->len = (size_t)(s->p - start);
    v->escaped = 0;
    return 1;
}

int gf_jscan_value(struct gf_jscan *s, struct gf_jval *v)
{
    skip_ws(s);
    if (s->p >= s->end) {
        return 0;
    }
    switch (*s->p) {
    case '{':
        return scan_container(s, v, '{', '}');
    case '[':
        return scan_container(s, v, '[', ']');
    case '"':
        return scan_string(s, v);
    case 't':
        return scan_word(s, v, "true", GF_J_TRUE);
    case 'f':
        return scan_word(s, v, "false", GF_J_FALSE);
    case 'n':
        return scan_word(s, v, "null", GF_J_NULL);
    default:
        return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && scan_number(s, v);
    }
}

int gf_jscan_end(struct gf_jscan *s)
{
    skip_ws(s);
    return s->p == s->end && s->depth == 0;
}

int gf_jval_is(const struct gf_jval *v, const char *name)
{
    size_t n = strlen(name);

    return v->type == GF_J_STRING && !v->escaped && v->len == n + 2 &&
           memcmp(v->text + 1, name, n) == 0;
}

int gf_jval_int(const struct gf_jval *v, long long min, long long max, long long *out)
{
    char tmp[GF_JSCAN_NUMBER_MAX + 1];
    char *endp;

    if (v->type != GF_J_NUMBER || memchr(v->text, '.', v->len) || memchr(v->text, 'e', v->len) ||
        memchr(v->text, 'E', v->len)) {
        return 0;
    }
    memcpy(tmp, v->text, v->len);
    tmp[v->len] = '\0';
    errno = 0;
    long long x = strtoll(tmp, &endp, 10);
    if (errno != 0 || *endp != '\0' || x < min || x > max) {
        return 0;
    }
    *out = x;
    return 1;
}

const char *gf_jval_plain(const struct gf_jval *v, size_t max, size_t *len)
{
    if (v->type != GF_J_STRING || v->escaped || v->len < 3 || v->len - 2 > max) {
        return NULL;
    }
    *len = v->len - 2;
    return v->text + 1;
}
