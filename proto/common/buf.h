/* SPDX-License-Identifier: Apache-2.0
 *
 * buf.h - growable byte buffer with a hard cap.
 *
 * Used for request bodies, response bodies and file reads. Appending past the cap fails
 * with GF_ERR_TOOBIG and leaves the buffer as it was. The data is always NUL-terminated
 * (the NUL is not counted in len). Plain value struct; not thread-safe.
 */
#ifndef GF_COMMON_BUF_H
#define GF_COMMON_BUF_H

#include "err.h"

#include <stddef.h>

struct gf_buf {
    char *data; /* NULL until the first append; owned (free with gf_buf_free) */
    size_t len;
    size_t alloc;
    size_t cap; /* max len */
};

/* Initialise an empty buffer that may grow to cap bytes. */
void gf_buf_init(struct gf_buf *b, size_t cap);

/* Release the data; the buffer is empty again and may be reused. */
void gf_buf_free(struct gf_buf *b);

/* Append n bytes. GF_ERR_TOOBIG past the cap, GF_ERR_NOMEM. */
enum gf_err gf_buf_append(struct gf_buf *b, const void *p, size_t n);

/* Append a C string / printf output. Same errors. */
enum gf_err gf_buf_puts(struct gf_buf *b, const char *s);
enum gf_err gf_buf_printf(struct gf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Detach the data: caller owns it (free with gf_free); the buffer is empty again. May return
 * NULL for an empty buffer. */
char *gf_buf_steal(struct gf_buf *b, size_t *len);

#endif
