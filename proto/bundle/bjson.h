/* SPDX-License-Identifier: Apache-2.0
 *
 * bjson.h - private helpers of proto/bundle (not a public API): the strict reading and the
 * canonical writing that manifest.c and sign.c share. Parsing maps every failure to a
 * typed reject reason (enum gf_reject in manifest.h), timestamps are exactly
 * "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds, 1970..9999), UUIDs and hex are lower-case
 * only, so one value has one spelling. Thread-safe (no shared state).
 */
#ifndef GF_PROTO_BJSON_H
#define GF_PROTO_BJSON_H

#include "buf.h"
#include "err.h"
#include "json.h"
#include "manifest.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GF_BJSON_TIME_LEN 20 /* "2026-11-23T08:00:00Z" */

/* Record a refusal: *out = r (if out), diag gets where and the message. Returns GF_ERR_PARSE
 * for GF_REJECT_MALFORMED and GF_ERR_INVAL for every other reason. */
enum gf_err gf_bjson_reject(enum gf_reject *out, enum gf_reject r, struct gf_diag *diag,
                            const char *where, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Parse data[0..len) into a JSON object (duplicate members, invalid UTF-8, NUL in strings,
 * trailing bytes refused). Caller owns *out (json_decref). GF_ERR_PARSE (MALFORMED),
 * GF_ERR_NOMEM. */
enum gf_err gf_bjson_parse(const char *data, size_t len, json_t **out, enum gf_reject *reason,
                           struct gf_diag *diag);

/* gf_json_check of obj (must be an object), failures as GF_ERR_PARSE / MALFORMED. */
enum gf_err gf_bjson_check(const json_t *obj, const struct gf_json_field *fields, size_t n,
                           const char *prefix, enum gf_reject *reason, struct gf_diag *diag);

/* When present with the right JSON type, "schema" must be GF_MANIFEST_SCHEMA and "type"
 * must be type; else GF_ERR_INVAL / GF_REJECT_SCHEMA. Absence is left to gf_bjson_check. */
enum gf_err gf_bjson_schema(const json_t *root, const char *type, enum gf_reject *reason,
                            struct gf_diag *diag);

/* The opening of every typed document (manifest, trust statement): gf_bjson_parse, then
 * gf_bjson_schema with type, then gf_bjson_check of the top-level fields. *root is set even
 * on failure (caller json_decrefs it). */
enum gf_err gf_bjson_open(const char *data, size_t len, const char *type,
                          const struct gf_json_field *fields, size_t n, json_t **root,
                          enum gf_reject *reason, struct gf_diag *diag);

/* Strict timestamp into µs since the epoch. GF_ERR_INVAL. */
enum gf_err gf_bjson_time_parse(const char *s, int64_t *out_us);

/* Timestamp of us rounded down to the second, into out (cap > GF_BJSON_TIME_LEN).
 * GF_ERR_INVAL outside 1970..9999. */
enum gf_err gf_bjson_time_format(int64_t us, char *out, size_t cap);

/* 1 if s is a lower-case canonical UUID. */
int gf_bjson_uuid_ok(const char *s);

/* 1 if s is exactly n lower-case hex characters. */
int gf_bjson_hex_ok(const char *s, size_t n);

/* Append s as a JSON string (quotes, escapes). GF_ERR_TOOBIG, GF_ERR_NOMEM. */
enum gf_err gf_bjson_put_str(struct gf_buf *b, const char *s);

#endif
