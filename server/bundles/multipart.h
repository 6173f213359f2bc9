/* SPDX-License-Identifier: Apache-2.0
 *
 * multipart.h - a strict multipart/form-data parser (RFC 7578) over a body already in memory,
 * for bundle uploads. Parts point into the body (no copies). Each part must carry a
 * Content-Disposition of form-data with a name; filename is optional. Part headers are
 * bounded; anything after the closing delimiter is ignored (the RFC's epilogue).
 * Thread-safe (no shared state).
 */
#ifndef GF_SERVER_MULTIPART_H
#define GF_SERVER_MULTIPART_H

#include "err.h"

#include <stddef.h>

#define GF_MULTIPART_MAX_PARTS 600
#define GF_MULTIPART_NAME_MAX 255

struct gf_mpart {
    char name[GF_MULTIPART_NAME_MAX + 1];
    char filename[GF_MULTIPART_NAME_MAX + 1]; /* "" when the part has none */
    int has_filename;
    const char *data;
    size_t len;
};

/* Boundary from a Content-Type header value ("multipart/form-data; boundary=..."), into out
 * (cap >= 71). GF_ERR_MEDIATYPE when it is not multipart/form-data with a valid boundary. */
enum gf_err gf_multipart_boundary(const char *content_type, char *out, size_t cap);

/* Split body[0..len) into at most max parts. GF_ERR_PARSE with diag (where "part N") for a
 * malformed body, GF_ERR_TOOBIG for too many parts. */
enum gf_err gf_multipart_parse(const char *body, size_t len, const char *boundary,
                               struct gf_mpart *parts, size_t max, size_t *nparts,
                               struct gf_diag *diag);

#endif
