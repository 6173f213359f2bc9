/* SPDX-License-Identifier: Apache-2.0
 *
 * bjson.c - strict JSON reading and canonical writing shared by the manifest, envelope and
 * trust codecs: jansson with duplicate members refused, field tables from json.h with every
 * failure typed as a reject reason, one spelling per timestamp, UUID and hex value, and a
 * JSON string writer for the encoders.
 */
#include "bjson.h"

#include "timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TIME_MAX_S INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

enum gf_err gf_bjson_reject(enum gf_reject *out, enum gf_reject r, struct gf_diag *diag,
                            const char *where, const char *fmt, ...)
{
    va_list ap;

    if (out != NULL) {
        *out = r;
    }
    if (diag != NULL) {
        snprintf(diag->where, sizeof(diag->where), "%s", where ? where : "");
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
        va_end(ap);
    }
    return r == GF_REJECT_MALFORMED ? GF_ERR_PARSE : GF_ERR_INVAL;
}

enum gf_err gf_bjson_parse(const char *data, size_t len, json_t **out, enum gf_reject *reason,
                           struct gf_diag *diag)
{
    json_error_t jerr;
    json_t *root;

    if (data == NULL) {
        return gf_bjson_reject(reason, GF_REJECT_MALFORMED, diag, "", "no input");
    }
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            return gf_diag_set(diag, GF_ERR_NOMEM, "", "out of memory parsing JSON");
        }
        return gf_bjson_reject(reason, GF_REJECT_MALFORMED, diag, "",
                               "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                               jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return gf_bjson_reject(reason, GF_REJECT_MALFORMED, diag, "", "not a JSON object");
    }
    *out = root;
    return GF_OK;
}

enum gf_err gf_bjson_check(const json_t *obj, const struct gf_json_field *fields, size_t n,
                           const char *prefix, enum gf_reject *reason, struct gf_diag *diag)
{
    if (!json_is_object(obj)) {
        return gf_bjson_reject(reason, GF_REJECT_MALFORMED, diag, prefix, "%s must be an object",
                               prefix[0] ? prefix : "the document");
    }
    if (gf_json_check(obj, fields, n, prefix, diag) != GF_OK) {
        if (reason != NULL) {
            *reason = GF_REJECT_MALFORMED;
        }
        return GF_ERR_PARSE;
    }
    return GF_OK;
}

enum gf_err gf_bjson_schema(const json_t *root, const char *type, enum gf_reject *reason,
                            struct gf_diag *diag)
{
    const json_t *s = json_object_get(root, "schema");
    const json_t *t = json_object_get(root, "type");

    if (json_is_integer(s) && json_integer_value(s) != GF_MANIFEST_SCHEMA) {
        return gf_bjson_reject(reason, GF_REJECT_SCHEMA, diag, "/schema",
                               "schema %lld is not supported (expected %d)",
                               (long long)json_integer_value(s), GF_MANIFEST_SCHEMA);
    }
    if (json_is_string(t) && strcmp(json_string_value(t), type) != 0) {
        return gf_bjson_reject(reason, GF_REJECT_SCHEMA, diag, "/type", "type must be \"%s\"",
                               type);
    }
    return GF_OK;
}

enum gf_err gf_bjson_open(const char *data, size_t len, const char *type,
                          const struct gf_json_field *fields, size_t n, json_t **root,
                          enum gf_reject *reason, struct gf_diag *diag)
{
    enum gf_err err = gf_bjson_parse(data, len, root, reason, diag);

    if (err == GF_OK) {
        err = gf_bjson_schema(*root, type, reason, diag);
    }
    if (err == GF_OK) {
        err = gf_bjson_check(*root, fields, n, "", reason, diag);
    }
    return err;
}

static int shape_ok(const char *s)
{
    /* "YYYY-MM-DDTHH:MM:SSZ": fixed punctuation, digits everywhere else */
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

    for (size_t i = 0; i < GF_BJSON_TIME_LEN; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
            return 0;
        }
    }
    return s[GF_BJSON_TIME_LEN] == '\0';
}

enum gf_err gf_bjson_time_parse(const char *s, int64_t *out_us)
{
    char back[GF_BJSON_TIME_LEN + 1];
    int64_t us;

    if (s == NULL || strnlen(s, GF_BJSON_TIME_LEN + 1) != GF_BJSON_TIME_LEN || !shape_ok(s) ||
        gf_time_parse_rfc3339(s, &us) != GF_OK) {
        return GF_ERR_INVAL;
    }
    /* one spelling per instant: refuses 23:59:60, Feb 29 of common years and the like */
    if (gf_bjson_time_format(us, back, sizeof(back)) != GF_OK || strcmp(back, s) != 0) {
        return GF_ERR_INVAL;
    }
    *out_us = us;
    return GF_OK;
}

enum gf_err gf_bjson_time_format(int64_t us, char *out, size_t cap)
{
    time_t secs;
    struct tm tm;

    if (us < 0 || us / 1000000 > TIME_MAX_S || cap <= GF_BJSON_TIME_LEN) {
        return GF_ERR_INVAL;
    }
    secs = (time_t)(us / 1000000);
    if (gmtime_r(&secs, &tm) == NULL) {
        return GF_ERR_INVAL;
    }
    /* gmtime_r's fields are in range (TIME_MAX_S keeps the year at four digits); the
     * compiler cannot know it, hence the unsigned casts for its truncation check. */
    snprintf(out, cap, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u);
    return GF_OK;
}

int gf_bjson_hex_ok(const char *s, size_t n)
{
    if (s == NULL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[n] == '\0';
}

int gf_bjson_uuid_ok(const char *s)
{
    if (s == NULL || strnlen(s, 37) != 36) {
        return 0;
    }
    for (size_t i = 0; i < 36; i++) {
        int dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

enum gf_err gf_bjson_put_str(struct gf_buf *b, const char *s)
{
    enum gf_err err = gf_buf_append(b, "\"", 1);
    const char *run = s;

    for (const char *p = s; err == GF_OK && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        err = gf_buf_append(b, run, (size_t)(p - run));
        if (err == GF_OK) {
            err = (c == '"' || c == '\\') ? gf_buf_printf(b, "\\%c", c)
                                          : gf_buf_printf(b, "\\u%04x", c);
        }
        run = p + 1;
    }
    if (err == GF_OK) {
        err = gf_buf_append(b, run, strlen(run));
    }
    if (err == GF_OK) {
        err = gf_buf_append(b, "\"", 1);
    }
    return err;
}
