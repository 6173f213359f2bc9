/* SPDX-License-Identifier: Apache-2.0
 *
 * json.h - strict JSON input: parse with caps, then read fields through a field table that
 * rejects unknown keys and wrong types and reports the JSON pointer of the first problem.
 *
 * Used for every untrusted JSON body (REST requests, later MQTT payloads). Duplicate keys,
 * invalid UTF-8, NUL bytes in strings, nesting deeper than GF_LIMIT_JSON_DEPTH and
 * non-object roots are rejected.
 */
#ifndef GF_COMMON_JSON_H
#define GF_COMMON_JSON_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>

enum gf_json_type { GF_JSON_STRING, GF_JSON_BOOL, GF_JSON_INT, GF_JSON_OBJECT, GF_JSON_ARRAY };

/* One accepted field of an object. */
struct gf_json_field {
    const char *name;
    enum gf_json_type type;
    int required;
    int nullable;    /* JSON null accepted (reads as absent) */
    size_t min_len;  /* strings: characters (code points) */
    size_t max_len;
    long long min;   /* ints */
    long long max;
};

/* Parse len bytes into a JSON object. Caller owns *out (json_decref). GF_ERR_PARSE with
 * diag->msg from jansson (line/column) for malformed input; GF_ERR_INVAL when the root is not
 * an object or nesting is too deep. */
enum gf_err gf_json_parse_object(const char *data, size_t len, json_t **out,
                                 struct gf_diag *diag);

/* Check obj against fields[nfields]: no unknown keys, required keys present, types, string
 * lengths (in code points) and integer bounds. prefix is the pointer of obj ("" for root).
 * GF_ERR_INVAL with diag->where = "/field". */
enum gf_err gf_json_check(const json_t *obj, const struct gf_json_field *fields, size_t nfields,
                          const char *prefix, struct gf_diag *diag);

/* Borrowed string of key, or NULL if absent or null. Call after gf_json_check. */
const char *gf_json_str(const json_t *obj, const char *key);

/* Integer/bool of key; returns def when absent or null. */
long long gf_json_int(const json_t *obj, const char *key, long long def);
int gf_json_bool(const json_t *obj, const char *key, int def);

/* True if key is present (even if null). */
int gf_json_has(const json_t *obj, const char *key);

/* Number of Unicode code points in valid UTF-8 s. */
size_t gf_utf8_len(const char *s);

/* 1 if s[0..n) is valid UTF-8 without NUL bytes. */
int gf_utf8_valid(const char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF): 1 for ASCII other than NUL, 2 to 4, or 0
 * when there is none (NUL, a stray or missing continuation byte, n too short). */
size_t gf_utf8_seq(const unsigned char *s, size_t n);

#endif
