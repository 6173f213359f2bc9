/* SPDX-License-Identifier: Apache-2.0
 *
 * err.c - names of the gatefleet error codes and the diagnostic helper.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[GF_ERR__COUNT] = {
    [GF_OK] = "ok",
    [GF_ERR_NOMEM] = "out of memory",
    [GF_ERR_INVAL] = "invalid value",
    [GF_ERR_PARSE] = "malformed input",
    [GF_ERR_NOTFOUND] = "not found",
    [GF_ERR_EXISTS] = "already exists",
    [GF_ERR_CONFLICT] = "conflict",
    [GF_ERR_AUTH] = "not authenticated",
    [GF_ERR_PERM] = "permission denied",
    [GF_ERR_CSRF] = "csrf token missing or wrong",
    [GF_ERR_TOOBIG] = "too large",
    [GF_ERR_PRECONDITION] = "precondition failed",
    [GF_ERR_UNPROCESSABLE] = "unprocessable",
    [GF_ERR_RATELIMIT] = "rate limited",
    [GF_ERR_MEDIATYPE] = "unsupported media type",
    [GF_ERR_METHOD] = "method not allowed",
    [GF_ERR_IO] = "i/o error",
    [GF_ERR_DB] = "database error",
    [GF_ERR_UNAVAILABLE] = "unavailable",
    [GF_ERR_TIMEOUT] = "timed out",
    [GF_ERR_CRYPTO] = "cryptographic failure",
    [GF_ERR_CONFIG] = "configuration error",
    [GF_ERR_INTERNAL] = "internal error",
};

const char *gf_err_str(enum gf_err err)
{
    if ((unsigned)err >= GF_ERR__COUNT || names[err] == NULL) {
        return "unknown error";
    }
    return names[err];
}

enum gf_err gf_diag_set(struct gf_diag *diag, enum gf_err err, const char *where,
                        const char *fmt, ...)
{
    va_list ap;

    if (diag == NULL) {
        return err;
    }
    snprintf(diag->where, sizeof(diag->where), "%s", where ? where : "");
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
    va_end(ap);
    return err;
}

void gf_diag_clear(struct gf_diag *diag)
{
    if (diag != NULL) {
        diag->where[0] = '\0';
        diag->msg[0] = '\0';
    }
}
