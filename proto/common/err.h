/* SPDX-License-Identifier: Apache-2.0
 *
 * err.h - the one error enum of gatefleet.
 *
 * Every function that can fail returns enum gf_err. When the caller needs to know *which*
 * field, key or file failed, it passes an optional struct gf_diag, which receives a short
 * message and a location (a JSON pointer, a config key, a file:line). The mapping from
 * gf_err to HTTP status lives in server/http/problem.c and nowhere else.
 */
#ifndef GF_COMMON_ERR_H
#define GF_COMMON_ERR_H

#include <stddef.h>

enum gf_err {
    GF_OK = 0,
    GF_ERR_NOMEM,        /* allocation failed */
    GF_ERR_INVAL,        /* invalid input (bad field, bad value) */
    GF_ERR_PARSE,        /* malformed syntax (JSON, config line, header) */
    GF_ERR_NOTFOUND,     /* no such object, or not visible to the caller */
    GF_ERR_EXISTS,       /* unique constraint: the object already exists */
    GF_ERR_CONFLICT,     /* state forbids the change (e.g. last owner) */
    GF_ERR_AUTH,         /* not authenticated, or bad credentials */
    GF_ERR_PERM,         /* authenticated but not allowed */
    GF_ERR_CSRF,         /* missing or wrong CSRF token */
    GF_ERR_TOOBIG,       /* over a size cap */
    GF_ERR_PRECONDITION, /* If-Match did not match */
    GF_ERR_UNPROCESSABLE,/* well-formed but not acceptable (idempotency key reuse) */
    GF_ERR_RATELIMIT,    /* too many attempts */
    GF_ERR_MEDIATYPE,    /* unsupported content type */
    GF_ERR_METHOD,       /* method not allowed on this path */
    GF_ERR_IO,           /* system call failed */
    GF_ERR_DB,           /* database error */
    GF_ERR_UNAVAILABLE,  /* dependency down or shutting down */
    GF_ERR_TIMEOUT,      /* deadline passed */
    GF_ERR_CRYPTO,       /* cryptographic failure */
    GF_ERR_CONFIG,       /* bad configuration */
    GF_ERR_INTERNAL,     /* bug */
    GF_ERR__COUNT
};

/* Location and message of a failure, for the caller to report. Plain value struct. */
struct gf_diag {
    char where[128]; /* JSON pointer ("/name"), config key, parameter or file:line */
    char msg[256];   /* human sentence, never contains secrets */
};

/* Short stable name of an error ("not found"). Never NULL. Thread-safe. */
const char *gf_err_str(enum gf_err err);

/* Fill diag (if non-NULL) with where/printf-style message, returns err unchanged so
 * callers can write `return gf_diag_set(d, GF_ERR_INVAL, "/name", "too long");`. */
enum gf_err gf_diag_set(struct gf_diag *diag, enum gf_err err, const char *where,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reset diag to empty. */
void gf_diag_clear(struct gf_diag *diag);

#endif
