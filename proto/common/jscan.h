/* SPDX-License-Identifier: Apache-2.0
 *
 * jscan.h - a validating JSON scanner over a byte span, for hot paths that need a few
 * fields of a document and pass the rest on as text (the health ingest hands each sample's
 * text to PostgreSQL without building a tree and serialising it again).
 *
 * The scanner walks the document in place and never allocates. Every value it steps over
 * is checked against RFC 8259 and against what PostgreSQL's jsonb accepts, so text it
 * passes on cannot fail there: strings without raw control characters, escapes well
 * formed, no \u0000, surrogate escapes in pairs; numbers at most 64 characters that parse
 * to a finite double; nesting at most GF_LIMIT_JSON_DEPTH. UTF-8 validity of the span is
 * the caller's check (gf_utf8_valid, once for the whole payload). Duplicate keys are not
 * detected here: callers that read named fields reject duplicates of those themselves.
 * Plain value struct; not thread-safe.
 *
 *   struct gf_jscan s;  struct gf_jval k, v;  size_t n = 0;
 *   gf_jscan_init(&s, text, len);
 *   if (!gf_jscan_enter(&s, '{')) fail;
 *   while ((r = gf_jscan_next(&s, '}', &n)) > 0) {
 *       if (!gf_jscan_key(&s, &k)) fail;
 *       if (gf_jval_is(&k, "records")) ... else if (!gf_jscan_value(&s, &v)) fail;
 *   }
 *   if (r < 0 || !gf_jscan_end(&s)) fail;
 */
#ifndef GF_COMMON_JSCAN_H
#define GF_COMMON_JSCAN_H

#include <stddef.h>

enum gf_jtype {
    GF_J_OBJECT,
    GF_J_ARRAY,
    GF_J_STRING,
    GF_J_NUMBER,
    GF_J_TRUE,
    GF_J_FALSE,
    GF_J_NULL
};

/* A scanned value: its type and its raw text (strings include the quotes). */
struct gf_jval {
    enum gf_jtype type;
    const char *text;
    size_t len;
    int escaped; /* strings: contains a backslash escape */
};

struct gf_jscan {
    const char *p, *end;
    int depth; /* containers entered with gf_jscan_enter and not yet left */
};

void gf_jscan_init(struct gf_jscan *s, const char *text, size_t len);

/* Enter an object ('{') or array ('['): 1, or 0 when the next token is something else. */
int gf_jscan_enter(struct gf_jscan *s, char open);

/* Step to the next member or element of the container entered with close ('}' or ']').
 * *n counts the members seen (start at 0). 1: one follows (for objects: read its key with
 * gf_jscan_key, then its value); 0: the container ended; -1: malformed. */
int gf_jscan_next(struct gf_jscan *s, char close, size_t *n);

/* A member's key and the ':' after it: 1, or 0 when malformed. */
int gf_jscan_key(struct gf_jscan *s, struct gf_jval *key);

/* Scan one complete value (validating everything inside it): 1, or 0 when malformed. */
int gf_jscan_value(struct gf_jscan *s, struct gf_jval *v);

/* Only whitespace is left: 1, else 0. */
int gf_jscan_end(struct gf_jscan *s);

/* The value is the string name, written without escapes. */
int gf_jval_is(const struct gf_jval *v, const char *name);

/* An integer (no fraction or exponent) within [min, max] into *out: 1, else 0. */
int gf_jval_int(const struct gf_jval *v, long long min, long long max, long long *out);

/* A string of 1..max bytes without escapes: its bytes (not NUL-terminated) and length;
 * NULL otherwise. Such text can be copied into JSON or SQL text as it is. */
const char *gf_jval_plain(const struct gf_jval *v, size_t max, size_t *len);

#endif
