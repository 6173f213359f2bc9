/* SPDX-License-Identifier: Apache-2.0
 *
 * httpc_resp.c - the response side of the agent's HTTP client (see httpc.h): an incremental
 * parser fed with whatever the connection delivers. It reads the status line and the header
 * section into one bounded line buffer (GF_HTTPC_HEADER_MAX in all), skips 1xx interim
 * answers, hands each header of the final answer to the sink, then frames the body by
 * Content-Length, chunked transfer-encoding (chunk-size lines bounded, extensions and
 * trailers ignored) or the end of the connection, and passes body bytes to the sink, which
 * may stop the transfer. Strict where laxness could be abused: no folded header lines, no
 * bare CR, no conflicting Content-Length, no chunk sizes past 64 bits. Also the HTTP date
 * parser behind the agent's clock-offset logic.
 */
#include "httpc.h"

#include "alloc.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

enum state {
    ST_STATUS,     /* status line */
    ST_HEADERS,    /* header lines until the empty one */
    ST_BODY_LEN,   /* remaining Content-Length bytes */
    ST_BODY_CLOSE, /* until the connection closes */
    ST_CHUNK_SIZE, /* chunk-size line */
    ST_CHUNK_DATA, /* remaining bytes of a chunk */
    ST_CHUNK_END,  /* the CRLF after a chunk's data */
    ST_TRAILER,    /* trailer lines until the empty one */
    ST_DONE,
    ST_ERROR,
};

struct gf_httpc_resp {
    struct gf_httpc_sink sink;
    int flags;
    enum state state;
    long status;
    int interim; /* the answer being read is a 1xx */
    int has_length, has_te, chunked;
    uint64_t length;      /* Content-Length */
    uint64_t remaining;   /* of the body or the chunk */
    size_t section_bytes; /* header section (or trailers) so far, line ends included */
    int seen_any;         /* a byte of the answer arrived */
    size_t line_len;
    char line[GF_HTTPC_HEADER_MAX + 1];
};

enum gf_err gf_httpc_resp_new(int flags, const struct gf_httpc_sink *sink,
                              struct gf_httpc_resp **out)
{
    struct gf_httpc_resp *r = gf_malloc(sizeof(*r));

    if (r == NULL) {
        return GF_ERR_NOMEM;
    }
    memset(r, 0, offsetof(struct gf_httpc_resp, line));
    r->line[0] = '\0';
    r->flags = flags;
    r->state = ST_STATUS;
    if (sink != NULL) {
        r->sink = *sink;
    }
    *out = r;
    return GF_OK;
}

void gf_httpc_resp_free(struct gf_httpc_resp *r)
{
    gf_free(r);
}

int gf_httpc_resp_done(const struct gf_httpc_resp *r)
{
    return r->state == ST_DONE;
}

int gf_httpc_resp_until_close(const struct gf_httpc_resp *r)
{
    return r->state == ST_BODY_CLOSE;
}

long gf_httpc_resp_status(const struct gf_httpc_resp *r)
{
    return r->interim ? 0 : r->status;
}

/* ------------------------------------------------------------------ header section */

static int tchar(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static enum gf_err on_status_line(struct gf_httpc_resp *r, const char *s, size_t n)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) || s[8] != ' ' ||
        !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
        !isdigit((unsigned char)s[11]) || (n > 12 && s[12] != ' ')) {
        return GF_ERR_PARSE;
    }
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (r->status < 100 || r->status > 599) {
        return GF_ERR_PARSE;
    }
    if (r->status == 101) {
        return GF_ERR_INVAL; /* we never ask to switch protocols */
    }
    r->interim = r->status < 200;
    r->has_length = r->has_te = r->chunked = 0;
    r->state = ST_HEADERS;
    return GF_OK;
}

static enum gf_err content_length(struct gf_httpc_resp *r, const char *v)
{
    uint64_t len = 0;

    if (*v == '\0') {
        return GF_ERR_PARSE;
    }
    for (; *v; v++) {
        if (!isdigit((unsigned char)*v) || len > (UINT64_MAX - 9) / 10) {
            return GF_ERR_PARSE;
        }
        len = len * 10 + (uint64_t)(*v - '0');
    }
    if (r->has_length && r->length != len) {
        return GF_ERR_PARSE;
    }
    r->has_length = 1;
    r->length = len;
    return GF_OK;
}

/* The last coding of a Transfer-Encoding value decides: chunked, or read until close. */
static void transfer_encoding(struct gf_httpc_resp *r, const char *v)
{
    const char *last = strrchr(v, ',');

    last = last ? last + 1 : v;
    last += strspn(last, " \t");
    r->has_te = 1;
    r->chunked = strncasecmp(last, "chunked", 7) == 0 && last[7 + strspn(last + 7, " \t")] == 0;
}

static enum gf_err on_header_line(struct gf_httpc_resp *r, char *s, size_t n)
{
    size_t name_len = 0;

    if (s[0] == ' ' || s[0] == '\t') {
        return GF_ERR_PARSE; /* obsolete line folding */
    }
    while (name_len < n && tchar((unsigned char)s[name_len])) {
        name_len++;
    }
    if (name_len == 0 || name_len == n || s[name_len] != ':') {
        return GF_ERR_PARSE;
    }
    s[name_len] = '\0';
    char *v = s + name_len + 1, *end = s + n;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *end = '\0';
    for (const char *c = v; c < end; c++) {
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
            return GF_ERR_PARSE;
        }
    }
    if (r->interim) {
        return GF_OK;
    }
    if (strcasecmp(s, "Content-Length") == 0) {
        enum gf_err err = content_length(r, v);
        if (err != GF_OK) {
            return err;
        }
    } else if (strcasecmp(s, "Transfer-Encoding") == 0) {
        transfer_encoding(r, v);
    }
    if (r->sink.on_header != NULL) {
        r->sink.on_header(r->sink.ud, s, v);
    }
    return GF_OK;
}

/* The empty line: what follows the header section. */
static void end_of_headers(struct gf_httpc_resp *r)
{
    if (r->interim) {
        r->state = ST_STATUS; /* 1xx: the real answer follows */
    } else if ((r->flags & (GF_HTTPC_RESP_CONNECT | GF_HTTPC_RESP_HEAD)) != 0 || r->status == 204 ||
               r->status == 304) {
        r->state = ST_DONE;
    } else if (r->has_te) {
        r->state = r->chunked ? ST_CHUNK_SIZE : ST_BODY_CLOSE;
    } else if (r->has_length) {
        r->remaining = r->length;
        r->state = r->length > 0 ? ST_BODY_LEN : ST_DONE;
    } else {
        r->state = ST_BODY_CLOSE;
    }
}

/* ------------------------------------------------------------------ chunks */

static enum gf_err on_chunk_size(struct gf_httpc_resp *r, const char *s, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;

    for (; i < n && isxdigit((unsigned char)s[i]); i++) {
        if (size > (UINT64_MAX >> 4)) {
            return GF_ERR_PARSE;
        }
        int c = tolower((unsigned char)s[i]);
        size = (size << 4) | (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    if (i == 0) {
        return GF_ERR_PARSE;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    if (i < n && s[i] != ';') {
        return GF_ERR_PARSE;
    }
    if (size == 0) {
        r->section_bytes = 0;
        r->state = ST_TRAILER;
    } else {
        r->remaining = size;
        r->state = ST_CHUNK_DATA;
    }
    return GF_OK;
}

/* ------------------------------------------------------------------ lines */

/* A complete line (without its line end) in the state that expects one. */
static enum gf_err on_line(struct gf_httpc_resp *r, char *s, size_t n)
{
    if (memchr(s, '\r', n) != NULL || memchr(s, '\0', n) != NULL) {
        return GF_ERR_PARSE; /* bare CR, NUL */
    }
    switch (r->state) {
    case ST_STATUS:
        return on_status_line(r, s, n);
    case ST_HEADERS:
        if (n == 0) {
            end_of_headers(r);
            return GF_OK;
        }
        return on_header_line(r, s, n);
    case ST_CHUNK_SIZE:
        return on_chunk_size(r, s, n);
    case ST_CHUNK_END:
        r->state = ST_CHUNK_SIZE;
        return n == 0 ? GF_OK : GF_ERR_PARSE;
    case ST_TRAILER:
        if (n == 0) {
            r->state = ST_DONE;
        }
        return GF_OK;
    default:
        return GF_ERR_INTERNAL;
    }
}

/* Take bytes of a line from p[0..n) into r->line; at its LF, handle the line. */
static enum gf_err line_step(struct gf_httpc_resp *r, const char *p, size_t n, size_t *used)
{
    const char *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) + 1 : n;
    int section = r->state == ST_STATUS || r->state == ST_HEADERS || r->state == ST_TRAILER;
    size_t cap = section                     ? GF_HTTPC_HEADER_MAX
                 : r->state == ST_CHUNK_SIZE ? GF_HTTPC_CHUNK_LINE_MAX
                                             : 2;

    *used = take;
    if (section && r->section_bytes + take > GF_HTTPC_HEADER_MAX) {
        return GF_ERR_TOOBIG;
    }
    if (r->line_len + take > cap) {
        return r->state == ST_CHUNK_END ? GF_ERR_PARSE : GF_ERR_TOOBIG;
    }
    memcpy(r->line + r->line_len, p, take);
    r->line_len += take;
    if (section) {
        r->section_bytes += take;
    }
    if (lf == NULL) {
        return GF_OK;
    }
    size_t len = r->line_len - 1; /* without the LF */
    if (len > 0 && r->line[len - 1] == '\r') {
        len--;
    }
    r->line[len] = '\0';
    r->line_len = 0;
    return on_line(r, r->line, len);
}

static enum gf_err body_step(struct gf_httpc_resp *r, const char *p, size_t n, size_t *used)
{
    size_t take = n;

    if (r->state != ST_BODY_CLOSE && r->remaining < take) {
        take = (size_t)r->remaining;
    }
    *used = take;
    if (r->state != ST_BODY_CLOSE) {
        r->remaining -= take;
        if (r->remaining == 0) {
            r->state = r->state == ST_BODY_LEN ? ST_DONE : ST_CHUNK_END;
        }
    }
    return r->sink.on_body != NULL ? r->sink.on_body(r->sink.ud, r->status, p, take) : GF_OK;
}

enum gf_err gf_httpc_resp_feed(struct gf_httpc_resp *r, const char *p, size_t n, size_t *used)
{
    enum gf_err err = GF_OK;
    size_t i = 0;

    if (r->state == ST_ERROR) {
        *used = 0;
        return GF_ERR_INVAL;
    }
    r->seen_any |= n > 0;
    while (i < n && r->state != ST_DONE && err == GF_OK) {
        size_t k = 0;
        if (r->state == ST_BODY_LEN || r->state == ST_BODY_CLOSE || r->state == ST_CHUNK_DATA) {
            err = body_step(r, p + i, n - i, &k);
        } else {
            err = line_step(r, p + i, n - i, &k);
        }
        i += k;
    }
    if (err != GF_OK) {
        r->state = ST_ERROR;
    }
    *used = i;
    return err;
}

enum gf_err gf_httpc_resp_eof(struct gf_httpc_resp *r)
{
    if (r->state == ST_BODY_CLOSE) {
        r->state = ST_DONE;
    }
    return r->state == ST_DONE ? GF_OK : GF_ERR_UNAVAILABLE;
}

/* ------------------------------------------------------------------ dates */

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

enum gf_err gf_httpc_date_parse(const char *s, time_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    int day, year, hh, mm, ss, mon = -1;

    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (strlen(s) != 29 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) ||
        !isalpha((unsigned char)s[2]) || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' ||
        s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
        memcmp(s + 25, " GMT", 4) != 0) {
        return GF_ERR_PARSE;
    }
    for (int i = 0; i < 12; i++) {
        if (memcmp(s + 8, months + 3 * i, 3) == 0) {
            mon = i;
        }
    }
    if (mon < 0 || !digits(s + 5, 2, &day) || !digits(s + 12, 4, &year) ||
        !digits(s + 17, 2, &hh) || !digits(s + 20, 2, &mm) || !digits(s + 23, 2, &ss) || day < 1 ||
        day > 31 || year < 1970 || hh > 23 || mm > 59 || ss > 60) {
        return GF_ERR_PARSE;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != day) {
        return GF_ERR_PARSE; /* 31 Feb and friends */
    }
    *out = t;
    return GF_OK;
}
