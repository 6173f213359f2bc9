/* SPDX-License-Identifier: Apache-2.0
 *
 * result.c - the result messages of a command (cmd_int.h), published on `cmd/res`:
 *
 *   {"id":"..","status":"running","started_at":"2026-11-23T04:01:02.123Z"}
 *   {"id":"..","status":"succeeded|failed|timed_out|rejected","exit_code":N|null,
 *    "signal":N|null,"output":"..","output_truncated":false,"duration_ms":N,
 *    "error":"..."|null[,"result":{...}]}
 *
 * A program's output is arbitrary bytes; it is made valid UTF-8 here (every byte that does
 * not start a well-formed sequence, and every NUL, which PostgreSQL's jsonb refuses, becomes
 * U+FFFD) and cut at a character boundary to the configured cap, so the JSON is always valid
 * and bounded. Texts are copied out of jansson's allocator into gf_malloc'd memory, so the
 * whole runner frees with gf_free (and allocation-failure tests reach every step).
 */
#include "cmd_int.h"

#include "alloc.h"
#include "json.h"
#include "timefmt.h"

#include <stdlib.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t gf_cmd_utf8_clean(const char *in, size_t n, char *out, size_t cap, int *cut)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, w = 0;

    *cut = 0;
    while (i < n) {
        size_t len = gf_utf8_seq(s + i, n - i);
        const char *src = len > 0 ? in + i : replacement;
        size_t wlen = len > 0 ? len : sizeof(replacement) - 1;
        if (w + wlen > cap - 1) {
            *cut = 1;
            break;
        }
        memcpy(out + w, src, wlen);
        w += wlen;
        i += len > 0 ? len : 1;
    }
    out[w] = '\0';
    return w;
}

static char *dump(json_t *o, size_t *len)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    char *copy = NULL;
    size_t n;

    json_decref(o);
    if (text != NULL) {
        n = strlen(text);
        copy = gf_malloc(n + 1);
        if (copy != NULL) {
            memcpy(copy, text, n + 1);
            *len = n;
        }
    }
    free(text); /* jansson's allocator */
    return copy;
}

static json_t *id_value(const char *id)
{
    return id != NULL ? json_string(id) : json_null();
}

char *gf_cmd_result_running(const char *id, size_t *len)
{
    char at[32];

    gf_time_format_rfc3339(gf_time_now_us(), at, sizeof(at));
    return dump(
        json_pack("{s:o, s:s, s:s}", "id", id_value(id), "status", "running", "started_at", at),
        len);
}

static json_t *int_or_null(int present, long long v)
{
    return present ? json_integer((json_int_t)v) : json_null();
}

char *gf_cmd_result_final(const char *id, const struct gf_cmd_final *f, size_t *len)
{
    char *clean = gf_malloc(f->output_max + 1);
    char error[sizeof(((struct gf_diag *)0)->msg) + 64];
    json_t *o = NULL;
    size_t n;
    int cut = 0, ecut = 0;

    if (clean == NULL) {
        return NULL;
    }
    n = gf_cmd_utf8_clean(f->output != NULL ? f->output : "", f->output_len, clean,
                          f->output_max + 1, &cut);
    if (f->error != NULL) { /* diag texts may hold a caller's key cut mid-character */
        gf_cmd_utf8_clean(f->error, strlen(f->error), error, sizeof(error), &ecut);
    }
    o = json_pack("{s:o, s:s, s:o, s:o, s:s%, s:b, s:I, s:o}", "id", id_value(id), "status",
                  f->status, "exit_code", int_or_null(f->exit_code >= 0, f->exit_code), "signal",
                  int_or_null(f->signal > 0, f->signal), "output", clean, n, "output_truncated",
                  f->truncated || cut, "duration_ms", (json_int_t)f->duration_ms, "error",
                  f->error != NULL ? json_string(error) : json_null());
    gf_free(clean);
    if (o != NULL && f->result != NULL &&
        json_object_set_new(o, "result", json_deep_copy(f->result)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return dump(o, len);
}
