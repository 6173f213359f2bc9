/* SPDX-License-Identifier: Apache-2.0
 *
 * buf.c - bounded growable buffer.
 */
#include "buf.h"

#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gf_buf_init(struct gf_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void gf_buf_free(struct gf_buf *b)
{
    gf_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

static enum gf_err reserve(struct gf_buf *b, size_t extra)
{
    size_t want;
    char *p;

    if (extra > b->cap || b->len > b->cap - extra) {
        return GF_ERR_TOOBIG;
    }
    want = b->len + extra + 1;
    if (want <= b->alloc) {
        return GF_OK;
    }
    size_t n = b->alloc ? b->alloc : 256;
    while (n < want) {
        n *= 2;
    }
    p = gf_realloc(b->data, n);
    if (p == NULL) {
        return GF_ERR_NOMEM;
    }
    b->data = p;
    b->alloc = n;
    return GF_OK;
}

enum gf_err gf_buf_append(struct gf_buf *b, const void *p, size_t n)
{
    enum gf_err err = reserve(b, n);

    if (err != GF_OK) {
        return err;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return GF_OK;
}

enum gf_err gf_buf_puts(struct gf_buf *b, const char *s)
{
    return gf_buf_append(b, s, strlen(s));
}

enum gf_err gf_buf_printf(struct gf_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    enum gf_err err;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return GF_ERR_INVAL;
    }
    err = reserve(b, (size_t)n);
    if (err != GF_OK) {
        return err;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return GF_OK;
}

char *gf_buf_steal(struct gf_buf *b, size_t *len)
{
    char *d = b->data;

    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return d;
}
