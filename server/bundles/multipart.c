/* SPDX-License-Identifier: Apache-2.0
 *
 * multipart.c - multipart/form-data splitting (see multipart.h). The body is scanned once
 * for "\r\n--<boundary>"; each part's header block (at most 4 KiB) is parsed for its
 * Content-Disposition. Only the delimiter is trusted to end a part, so binary file content
 * is never inspected.
 */
#define _GNU_SOURCE /* memmem */
#include "multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PART_HEADERS_MAX 4096u

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0 || hlen < nlen) {
        return NULL;
    }
    return memmem(hay, hlen, needle, nlen);
}

enum gf_err gf_multipart_boundary(const char *ct, char *out, size_t cap)
{
    static const char type[] = "multipart/form-data";
    const char *p;
    size_t n = 0;

    if (ct == NULL || strncasecmp(ct, type, sizeof(type) - 1) != 0) {
        return GF_ERR_MEDIATYPE;
    }
    for (p = ct + sizeof(type) - 1; *p != '\0'; p++) {
        if (strncasecmp(p, "boundary=", 9) == 0 && (p[-1] == ';' || p[-1] == ' ')) {
            break;
        }
    }
    if (*p == '\0') {
        return GF_ERR_MEDIATYPE;
    }
    p += 9;
    int quoted = *p == '"';
    p += (size_t)quoted;
    while (*p != '\0' && (quoted ? *p != '"' : (*p != ';' && *p != ' '))) {
        if (n + 1 >= cap || n >= 70) {
            return GF_ERR_MEDIATYPE;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return n == 0 || (quoted && *p != '"') ? GF_ERR_MEDIATYPE : GF_OK;
}

/* Value of param (name= or filename=) in a Content-Disposition line, quoted or not. -1 when
 * absent, -2 when malformed or too long. */
static int disposition_param(const char *line, size_t len, const char *param, char *out, size_t cap)
{
    size_t plen = strlen(param);

    for (size_t i = 0; i + plen < len; i++) {
        if ((i == 0 || line[i - 1] == ';' || line[i - 1] == ' ') &&
            strncasecmp(line + i, param, plen) == 0 && line[i + plen] == '=') {
            size_t j = i + plen + 1, n = 0;
            int quoted = j < len && line[j] == '"';
            j += (size_t)quoted;
            while (j < len && (quoted ? line[j] != '"' : (line[j] != ';' && line[j] != ' '))) {
                if (line[j] == '\\' && quoted && j + 1 < len) {
                    j++;
                }
                if (n + 1 >= cap || (unsigned char)line[j] < 0x20) {
                    return -2;
                }
                out[n++] = line[j++];
            }
            if (quoted && (j >= len || line[j] != '"')) {
                return -2;
            }
            out[n] = '\0';
            return (int)n;
        }
    }
    return -1;
}

static enum gf_err part_headers(const char *h, size_t len, struct gf_mpart *part, size_t idx,
                                struct gf_diag *diag)
{
    char where[32];
    int seen = 0;

    snprintf(where, sizeof(where), "part %zu", idx + 1);
    while (len > 0) {
        const char *eol = find(h, len, "\r\n", 2);
        size_t llen = eol ? (size_t)(eol - h) : len;
        static const char cd[] = "content-disposition:";
        if (llen >= sizeof(cd) - 1 && strncasecmp(h, cd, sizeof(cd) - 1) == 0) {
            const char *v = h + sizeof(cd) - 1;
            size_t vlen = llen - (sizeof(cd) - 1);
            while (vlen > 0 && *v == ' ') {
                v++;
                vlen--;
            }
            if (vlen < 9 || strncasecmp(v, "form-data", 9) != 0) {
                return gf_diag_set(diag, GF_ERR_PARSE, where,
                                   "Content-Disposition must be form-data");
            }
            if (disposition_param(v, vlen, "name", part->name, sizeof(part->name)) <= 0) {
                return gf_diag_set(diag, GF_ERR_PARSE, where,
                                   "Content-Disposition needs a name of 1..255 characters");
            }
            int f = disposition_param(v, vlen, "filename", part->filename, sizeof(part->filename));
            if (f == -2) {
                return gf_diag_set(diag, GF_ERR_PARSE, where, "filename is malformed or too long");
            }
            part->has_filename = f >= 0;
            seen = 1;
        }
        if (eol == NULL) {
            break;
        }
        len -= llen + 2;
        h = eol + 2;
    }
    return seen ? GF_OK : gf_diag_set(diag, GF_ERR_PARSE, where, "part has no Content-Disposition");
}

enum gf_err gf_multipart_parse(const char *body, size_t len, const char *boundary,
                               struct gf_mpart *parts, size_t max, size_t *nparts,
                               struct gf_diag *diag)
{
    char delim[80];
    int dlen = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    const char *p, *end = body + len;

    *nparts = 0;
    if (dlen < 5 || (size_t)dlen >= sizeof(delim)) {
        return gf_diag_set(diag, GF_ERR_PARSE, "Content-Type", "bad boundary");
    }
    /* The first delimiter may start the body without the leading CRLF. */
    if (len >= (size_t)dlen - 2 && memcmp(body, delim + 2, (size_t)dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        const char *d = find(body, len, delim, (size_t)dlen);
        if (d == NULL) {
            return gf_diag_set(diag, GF_ERR_PARSE, "", "no multipart delimiter in the body");
        }
        p = d + dlen;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            return *nparts > 0 ? GF_OK
                               : gf_diag_set(diag, GF_ERR_PARSE, "", "multipart body has no parts");
        }
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++; /* transport padding */
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            return gf_diag_set(diag, GF_ERR_PARSE, "", "malformed multipart delimiter line");
        }
        p += 2;
        if (*nparts >= max) {
            return gf_diag_set(diag, GF_ERR_TOOBIG, "", "more than %zu parts", max);
        }
        size_t room = (size_t)(end - p) < PART_HEADERS_MAX ? (size_t)(end - p) : PART_HEADERS_MAX;
        const char *hend = find(p, room, "\r\n\r\n", 4);
        const char *data;
        struct gf_mpart *part = &parts[*nparts];
        memset(part, 0, sizeof(*part));
        if (p + 2 <= end && p[0] == '\r' && p[1] == '\n') {
            hend = p - 2; /* no headers at all */
        }
        if (hend == NULL) {
            return gf_diag_set(diag, GF_ERR_PARSE, "",
                               "part %zu: headers unterminated or over "
                               "4 KiB",
                               *nparts + 1);
        }
        enum gf_err err = part_headers(p, hend > p ? (size_t)(hend - p) : 0, part, *nparts, diag);
        if (err != GF_OK) {
            return err;
        }
        data = hend + 4;
        const char *next = find(data, (size_t)(end - data), delim, (size_t)dlen);
        if (next == NULL) {
            return gf_diag_set(diag, GF_ERR_PARSE, "", "part %zu is not closed by a delimiter",
                               *nparts + 1);
        }
        part->data = data;
        part->len = (size_t)(next - data);
        (*nparts)++;
        p = next + dlen;
    }
}
