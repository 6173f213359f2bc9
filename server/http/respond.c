/* SPDX-License-Identifier: Apache-2.0
 *
 * respond.c - shared response shapes (see respond.h).
 */
#include "respond.h"

#include "timefmt.h"

#include "alloc.h"
#include "buf.h"
#include "ids.h"
#include "gf_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gf_err gf_page_parse(struct gf_req *r, struct gf_page *pg)
{
    const char *limit = gf_req_query(r, "limit");
    const char *cursor = gf_req_query(r, "cursor");
    char *end = NULL;

    pg->limit = GF_LIMIT_PAGE_DEFAULT;
    pg->cursor_us = NULL;
    pg->cursor_id = NULL;
    if (limit != NULL) {
        pg->limit = strtol(limit, &end, 10);
        if (end == limit || *end != '\0' || pg->limit < 1 || pg->limit > GF_LIMIT_PAGE_MAX) {
            return gf_req_fail(r, GF_ERR_INVAL, "limit", "limit must be an integer from 1 to %d",
                               GF_LIMIT_PAGE_MAX);
        }
    }
    snprintf(pg->fetch, sizeof(pg->fetch), "%ld", pg->limit + 1);
    if (cursor != NULL) {
        const char *dot = strchr(cursor, '.');
        size_t nl = dot ? (size_t)(dot - cursor) : 0;
        int ok = dot != NULL && nl > 0 && nl < 20 && gf_uuid_valid(dot + 1);
        for (size_t i = 0; ok && i < nl; i++) {
            ok = (cursor[i] >= '0' && cursor[i] <= '9') || (i == 0 && cursor[i] == '-');
        }
        if (!ok) {
            return gf_req_fail(r, GF_ERR_INVAL, "cursor", "cursor is not one this server issued");
        }
        pg->cursor_us = gf_arena_strndup(gf_req_arena(r), cursor, nl);
        pg->cursor_id = dot + 1;
        if (pg->cursor_us == NULL) {
            return GF_ERR_NOMEM;
        }
    }
    return GF_OK;
}

enum gf_err gf_reply_page(struct gf_req *r, PGresult *res, const struct gf_page *pg)
{
    struct gf_buf b;
    int n = PQntuples(res);
    int shown = n > pg->limit ? (int)pg->limit : n;
    enum gf_err err;

    gf_buf_init(&b, 64u * 1024u * 1024u);
    err = gf_buf_puts(&b, "{\"items\":[");
    for (int i = 0; err == GF_OK && i < shown; i++) {
        if (i > 0) {
            err = gf_buf_puts(&b, ",");
        }
        if (err == GF_OK) {
            err = gf_buf_puts(&b, PQgetvalue(res, i, 0));
        }
    }
    if (err == GF_OK && n > pg->limit && shown > 0) {
        err = gf_buf_printf(&b, "],\"next_cursor\":\"%s\"}", PQgetvalue(res, shown - 1, 1));
    } else if (err == GF_OK) {
        err = gf_buf_puts(&b, "],\"next_cursor\":null}");
    }
    if (err != GF_OK) {
        gf_buf_free(&b);
        return err;
    }
    size_t len = b.len;
    return gf_req_reply_owned(r, 200, "application/json", gf_buf_steal(&b, NULL), len);
}

/* Acquire the request's connection and run st; errors are recorded with what. */
static enum gf_err run(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                       PGresult **res, const char *what)
{
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    err = gf_db_exec(db, st, params, res);
    return err == GF_OK ? GF_OK : gf_req_db_fail(r, err, what, NULL);
}

enum gf_err gf_reply_list(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                          const struct gf_page *pg)
{
    PGresult *res = NULL;
    enum gf_err err = run(r, st, params, &res, "list");

    if (err != GF_OK) {
        return err;
    }
    err = gf_reply_page(r, res, pg);
    PQclear(res);
    return err;
}

enum gf_err gf_reply_exec(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                          const char *what)
{
    enum gf_err err = run(r, st, params, NULL, what);

    if (err == GF_OK) {
        gf_req_reply_empty(r, 204);
    }
    return err;
}

enum gf_err gf_reply_row(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                         unsigned status, const char *what)
{
    PGresult *res = NULL;
    enum gf_err err = run(r, st, params, &res, what);

    if (err != GF_OK) {
        return err;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such %s", what);
    }
    err = gf_reply_result(r, res, status);
    PQclear(res);
    return err;
}

enum gf_err gf_reply_result(struct gf_req *r, const PGresult *res, unsigned status)
{
    if (PQnfields(res) > 1 && !PQgetisnull(res, 0, 1)) {
        char etag[32];
        snprintf(etag, sizeof(etag), "\"%s\"", PQgetvalue(res, 0, 1));
        gf_req_add_header(r, "ETag", etag);
    }
    return gf_req_reply_text(r, status, "application/json", PQgetvalue(res, 0, 0),
                             (size_t)PQgetlength(res, 0, 0));
}

enum gf_err gf_req_if_match(struct gf_req *r, const char **version)
{
    const char *h = gf_req_header(r, "If-Match");
    size_t n;

    *version = NULL;
    if (h == NULL) {
        return GF_OK;
    }
    n = strlen(h);
    if (n < 3 || n > 12 || h[0] != '"' || h[n - 1] != '"') {
        return gf_req_fail(r, GF_ERR_PRECONDITION, "If-Match",
                           "If-Match must be an ETag returned by a read, e.g. \"3\"");
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (h[i] < '0' || h[i] > '9') {
            return gf_req_fail(r, GF_ERR_PRECONDITION, "If-Match",
                               "If-Match does not match the current version");
        }
    }
    *version = gf_arena_strndup(gf_req_arena(r), h + 1, n - 2);
    return *version ? GF_OK : GF_ERR_NOMEM;
}

enum gf_err gf_req_db_fail(struct gf_req *r, enum gf_err err, const char *what,
                           const char *field)
{
    switch (err) {
    case GF_ERR_EXISTS:
        return gf_req_fail(r, err, field, "%s already exists", what);
    case GF_ERR_INVAL:
        return gf_req_fail(r, err, field, "invalid value for %s", what);
    case GF_ERR_NOTFOUND:
        return gf_req_fail(r, err, field, "referenced object does not exist");
    case GF_ERR_CONFLICT:
        return gf_req_fail(r, err, "", "concurrent change, retry");
    case GF_ERR_UNAVAILABLE:
        return gf_req_fail(r, err, "", "database unavailable, try again");
    default:
        return gf_req_fail(r, err, "", "internal error");
    }
}

enum gf_err gf_req_check_expiry(struct gf_req *r, const char *where, const char *value)
{
    int64_t at;

    if (value == NULL) {
        return GF_OK;
    }
    if (gf_time_parse_rfc3339(value, &at) != GF_OK) {
        return gf_req_fail(r, GF_ERR_INVAL, where,
                           "%s must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z", where);
    }
    int64_t now = gf_time_now_us();
    if (at <= now || at > now + (int64_t)366 * 86400 * 1000000) {
        return gf_req_fail(r, GF_ERR_INVAL, where, "%s must be in the future and within one year",
                           where);
    }
    return GF_OK;
}
