/* SPDX-License-Identifier: Apache-2.0
 *
 * chunk.c - the chunker of a log stream (logs_int.h): raw bytes in, JSON chunks out.
 *
 * Raw bytes from the source land in one input buffer (a 64 KiB read plus the partial line
 * left from the previous one). Each run splits complete lines with memchr, cuts a line longer
 * than GF_LOGS_LINE_MAX into pieces (at a UTF-8 boundary when there is one), applies the
 * filter to a line's first piece (the line's other pieces follow that decision), takes a
 * token from the per-stream rate limit, and escapes the piece by hand straight into the
 * chunk buffer: control characters as \n, \t, \u00XX; invalid UTF-8 bytes and NUL (which
 * PostgreSQL text cannot hold) as U+FFFD; nothing is allocated per line. The chunk's lines
 * start a fixed distance into its buffer, so sealing only writes the header in front of them
 * and the trailer ("dropped", "truncated", "cut", "eof", "end", "reason") behind them.
 * A chunk is sealed when its lines reach chunk_bytes (so it holds at most chunk_bytes plus
 * one escaped line), when it has 64 cut pieces, when its first content is flush_ms old, at a
 * gap, and at the end of the stream. Only one chunk exists at a time: nothing is read into
 * a new one until the sealed one was taken (gf_logs_chunk_done).
 */
#include "logs_int.h"

#include "alloc.h"
#include "json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HEAD 128u      /* room for {"stream":"<63>","seq":<20>,"lines":[ */
#define TRAIL 2048u    /* ],"dropped":..,"truncated":..,"cut":[64],"eof",end,reason} */
#define CUT_MAX 64u    /* cut pieces in one chunk */
#define MIN_WAIT_MS 10 /* rate limit: shortest sleep */
#define ESC_MAX 6u     /* one raw byte escapes to at most 6 bytes (\u00XX) */

/* ---- escaping ---- */

/* Escape s[0..n) as the inside of a JSON string into d (room for ESC_MAX * n). Returns the
 * bytes written. */
static size_t esc(char *d, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = d;
    size_t i = 0;

    while (i < n) {
        unsigned char ch = s[i];
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            *o++ = (char)ch;
            i++;
            continue;
        }
        if (ch >= 0x80) {
            size_t k = gf_utf8_seq(s + i, n - i);
            if (k > 0) {
                memcpy(o, s + i, k);
                o += k;
                i += k;
                continue;
            }
        }
        i++;
        if (ch >= 0x80 || ch == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            continue;
        }
        *o++ = '\\';
        switch (ch) {
        case '"':
        case '\\':
            *o++ = (char)ch;
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[ch >> 4];
            o[4] = hex[ch & 15];
            o += 5;
            break;
        }
    }
    return (size_t)(o - d);
}

/* ---- set-up ---- */

static double max_d(double a, double b)
{
    return a > b ? a : b;
}

static enum gf_err set_filter(struct gf_logs_chunk *c, const char *f, struct gf_diag *diag)
{
    size_t n = f != NULL ? strlen(f) : 0;

    if (n == 0) {
        return GF_OK;
    }
    if (n > GF_LOGS_FILTER_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/filter", "filter longer than %u characters",
                           GF_LOGS_FILTER_MAX);
    }
    if (strncmp(f, "re:", 3) == 0) {
        int rc = regcomp(&c->re, f + 3, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &c->re, msg, sizeof(msg));
            return gf_diag_set(diag, GF_ERR_INVAL, "/filter", "bad regular expression: %s", msg);
        }
        c->has_re = 1;
        c->scratch = gf_malloc(GF_LOGS_LINE_MAX + 1);
        return c->scratch != NULL ? GF_OK : GF_ERR_NOMEM;
    }
    c->substr = gf_strdup(f);
    c->substr_len = n;
    return c->substr != NULL ? GF_OK : GF_ERR_NOMEM;
}

enum gf_err gf_logs_chunk_init(struct gf_logs_chunk *c, const struct gf_logs_chunk_cfg *cfg,
                               struct gf_diag *diag)
{
    enum gf_err err;

    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", cfg->stream_id);
    c->chunk_bytes = cfg->chunk_bytes;
    c->flush_ms = cfg->flush_ms;
    c->rl = (double)cfg->rate_lines;
    c->rb = (double)cfg->rate_bytes;
    c->lcap = max_d(1.0, c->rl / 10.0); /* a burst of 100 ms */
    c->bcap = max_d(1.0, c->rb / 10.0);
    c->ltok = c->lcap;
    c->btok = c->bcap;
    c->seq = 1;
    err = set_filter(c, cfg->filter, diag);
    if (err != GF_OK) {
        gf_logs_chunk_free(c);
        return err;
    }
    c->in_cap = GF_LOGS_READ_BLOCK + GF_LOGS_LINE_MAX + 1;
    c->out_cap = HEAD + c->chunk_bytes + ESC_MAX * GF_LOGS_LINE_MAX + 8 + TRAIL;
    c->in = gf_malloc(c->in_cap);
    c->out = gf_malloc(c->out_cap);
    if (c->in == NULL || c->out == NULL) {
        gf_logs_chunk_free(c);
        return GF_ERR_NOMEM;
    }
    return GF_OK;
}

void gf_logs_chunk_free(struct gf_logs_chunk *c)
{
    if (c->has_re) {
        regfree(&c->re);
        c->has_re = 0;
    }
    gf_free(c->substr);
    gf_free(c->scratch);
    gf_free(c->in);
    gf_free(c->out);
    c->substr = c->scratch = c->in = c->out = NULL;
}

/* ---- input ---- */

char *gf_logs_chunk_space(struct gf_logs_chunk *c, size_t *n)
{
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    *n = c->in_cap - c->in_end;
    return c->in + c->in_end;
}

void gf_logs_chunk_commit(struct gf_logs_chunk *c, size_t n)
{
    c->in_end += n;
}

void gf_logs_chunk_discard(struct gf_logs_chunk *c)
{
    c->in_start = c->in_end = 0;
    c->cont = c->skip = 0;
}

/* ---- sealing ---- */

static int has_content(const struct gf_logs_chunk *c)
{
    return c->nlines > 0 || c->dropped > 0 || c->truncated > 0;
}

/* Append printf output at *off within cap (the trailer room is reserved, so it fits). */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
    }
}

static void seal(struct gf_logs_chunk *c, int eof, const char *reason)
{
    char head[HEAD];
    int hl = snprintf(head, sizeof(head), "{\"stream\":\"%s\",\"seq\":%" PRIu64 ",\"lines\":[",
                      c->id, c->seq);
    size_t off = HEAD + c->len;

    memcpy(c->out + HEAD - (size_t)hl, head, (size_t)hl);
    put(c->out, c->out_cap, &off, "]");
    if (c->dropped > 0) {
        put(c->out, c->out_cap, &off, ",\"dropped\":%" PRIu64, c->dropped);
    }
    if (c->truncated > 0) {
        put(c->out, c->out_cap, &off, ",\"truncated\":%" PRIu64, c->truncated);
    }
    if (c->ncut > 0) {
        put(c->out, c->out_cap, &off, ",\"cut\":[");
        for (size_t i = 0; i < c->ncut; i++) {
            put(c->out, c->out_cap, &off, "%s%u", i > 0 ? "," : "", (unsigned)c->cut[i]);
        }
        put(c->out, c->out_cap, &off, "]");
    }
    put(c->out, c->out_cap, &off, ",\"eof\":%s", eof ? "true" : "false");
    if (reason != NULL) {
        size_t rn = strnlen(reason, GF_LOGS_REASON_MAX);
        put(c->out, c->out_cap, &off, ",\"end\":true,\"reason\":\"");
        off += esc(c->out + off, (const unsigned char *)reason, rn);
        put(c->out, c->out_cap, &off, "\"");
    }
    put(c->out, c->out_cap, &off, "}");
    c->sealed = 1;
    c->sealed_off = HEAD - (size_t)hl;
    c->sealed_len = off - c->sealed_off;
    c->sealed_lines = c->nlines;
    c->sealed_dropped = c->dropped;
    c->sealed_truncated = c->truncated;
    c->len = c->nlines = c->ncut = 0;
    c->dropped = c->truncated = 0;
}

int gf_logs_chunk_gap(struct gf_logs_chunk *c, int64_t now, uint64_t dropped, int truncated,
                      int eof)
{
    int sealed_now = 0;

    if (dropped == 0 && !truncated) {
        return 0;
    }
    if (!c->sealed && c->nlines > 0) {
        seal(c, eof, NULL);
        sealed_now = 1;
    }
    if (!has_content(c)) {
        c->first_ms = now;
    }
    c->dropped += dropped;
    c->truncated += truncated ? 1 : 0;
    return sealed_now;
}

int gf_logs_chunk_seal_old(struct gf_logs_chunk *c, int64_t now, int eof)
{
    if (c->sealed || !has_content(c) || now - c->first_ms < c->flush_ms) {
        return 0;
    }
    seal(c, eof, NULL);
    return 1;
}

int64_t gf_logs_chunk_flush_at(const struct gf_logs_chunk *c)
{
    return !c->sealed && has_content(c) ? c->first_ms + c->flush_ms : INT64_MAX;
}

void gf_logs_chunk_seal_end(struct gf_logs_chunk *c, const char *reason, int eof)
{
    if (!c->sealed) {
        seal(c, eof, reason);
    }
}

int gf_logs_chunk_sealed(const struct gf_logs_chunk *c, const char **json, size_t *len,
                         size_t *nlines)
{
    if (!c->sealed) {
        return 0;
    }
    *json = c->out + c->sealed_off;
    *len = c->sealed_len;
    *nlines = c->sealed_lines;
    return 1;
}

void gf_logs_chunk_done(struct gf_logs_chunk *c, int published)
{
    if (!c->sealed) {
        return;
    }
    c->sealed = 0;
    if (published) {
        c->seq++;
        return;
    }
    if (!has_content(c)) {
        c->first_ms = c->last_ms;
    }
    c->dropped += c->sealed_dropped + c->sealed_lines;
    c->truncated += c->sealed_truncated;
}

/* ---- lines ---- */

static int contains(const char *h, size_t hn, const char *nd, size_t nn)
{
    while (hn >= nn) {
        const char *q = memchr(h, nd[0], hn - nn + 1);
        if (q == NULL) {
            return 0;
        }
        if (memcmp(q, nd, nn) == 0) {
            return 1;
        }
        hn -= (size_t)(q - h) + 1;
        h = q + 1;
    }
    return 0;
}

static int pass(struct gf_logs_chunk *c, const char *p, size_t n)
{
    if (c->substr != NULL) {
        return contains(p, n, c->substr, c->substr_len);
    }
    if (c->has_re) {
        memcpy(c->scratch, p, n);
        c->scratch[n] = '\0';
        return regexec(&c->re, c->scratch, 0, NULL, 0) == 0;
    }
    return 1;
}

/* Where to cut a line longer than the limit: at GF_LOGS_LINE_MAX, moved back (up to 3 bytes)
 * to the start of a UTF-8 sequence when the cut would split one. */
static size_t cut_at(const char *p)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = GF_LOGS_LINE_MAX;

    while (i > GF_LOGS_LINE_MAX - 3 && (s[i] & 0xC0) == 0x80) {
        i--;
    }
    return (s[i] & 0xC0) == 0x80 ? GF_LOGS_LINE_MAX : i;
}

static void add_line(struct gf_logs_chunk *c, const char *p, size_t n, int cut, int64_t now)
{
    char *o = c->out + HEAD + c->len;

    if (!has_content(c)) {
        c->first_ms = now;
    }
    if (c->nlines > 0) {
        *o++ = ',';
    }
    *o++ = '"';
    o += esc(o, (const unsigned char *)p, n);
    *o++ = '"';
    c->len = (size_t)(o - (c->out + HEAD));
    if (cut) {
        c->cut[c->ncut++] = (uint16_t)c->nlines;
    }
    c->nlines++;
}

static void refill(struct gf_logs_chunk *c, int64_t now)
{
    if (now > c->last_ms) {
        double dt = (double)(now - c->last_ms) / 1000.0;
        c->ltok += c->rl * dt;
        c->btok += c->rb * dt;
        c->ltok = c->ltok > c->lcap ? c->lcap : c->ltok;
        c->btok = c->btok > c->bcap ? c->bcap : c->btok;
        c->last_ms = now;
    }
}

static int64_t rate_wait(const struct gf_logs_chunk *c)
{
    double need = 0.0;
    int64_t ms;

    if (c->ltok < 1.0) {
        need = (1.0 - c->ltok) / c->rl;
    }
    if (c->btok <= 0.0) {
        need = max_d(need, (1.0 - c->btok) / c->rb);
    }
    ms = (int64_t)(need * 1000.0) + 1;
    return ms < MIN_WAIT_MS ? MIN_WAIT_MS : ms;
}

enum gf_logs_run gf_logs_chunk_run(struct gf_logs_chunk *c, int64_t now, int final,
                                   int64_t *wait_ms)
{
    if (c->sealed) {
        return GF_LOGS_RUN_SEALED;
    }
    refill(c, now);
    while (c->in_start < c->in_end) {
        const char *p = c->in + c->in_start;
        size_t avail = c->in_end - c->in_start, n, used;
        size_t look = avail < GF_LOGS_LINE_MAX + 1 ? avail : GF_LOGS_LINE_MAX + 1;
        const char *nl;
        int whole = 1;

        if (c->len >= c->chunk_bytes || c->ncut == CUT_MAX) {
            seal(c, 0, NULL);
            return GF_LOGS_RUN_SEALED;
        }
        nl = memchr(p, '\n', look);
        if (nl != NULL) {
            n = (size_t)(nl - p);
            used = n + 1;
        } else if (avail > GF_LOGS_LINE_MAX) {
            n = used = cut_at(p);
            whole = 0;
        } else if (final) {
            n = used = avail;
        } else {
            break;
        }
        if (!c->cont) {
            c->skip = !pass(c, p, n);
        }
        if (!c->skip) {
            if (c->ltok < 1.0 || c->btok <= 0.0) {
                *wait_ms = rate_wait(c);
                return GF_LOGS_RUN_LIMITED;
            }
            c->ltok -= 1.0;
            c->btok -= (double)n;
            add_line(c, p, whole && n > 0 && p[n - 1] == '\r' ? n - 1 : n, !whole, now);
        }
        c->cont = !whole;
        c->in_start += used;
    }
    if (c->in_start == c->in_end) {
        c->in_start = c->in_end = 0;
        if (final) {
            c->cont = c->skip = 0;
        }
    }
    return GF_LOGS_RUN_INPUT;
}
