/* SPDX-License-Identifier: Apache-2.0
 *
 * respond.h - the shapes every resource handler shares: run a statement whose first column
 * is the object's JSON (built by PostgreSQL) and answer it, with ETag from the version
 * column; cursor pages {"items": [...], "next_cursor": ...}; If-Match parsing.
 *
 * Convention for statements: column 0 = object JSON text; column 1 = version (single reads)
 * or cursor text (lists).
 */
#ifndef GF_SERVER_RESPOND_H
#define GF_SERVER_RESPOND_H

#include "../store/db.h"
#include "req.h"

/* Cursor page parameters, as text ready to bind: cursor_us / cursor_id are NULL for the first
 * page; fetch is limit + 1 (to know whether a next page exists). */
struct gf_page {
    const char *cursor_us;
    const char *cursor_id;
    char fetch[24];
    long limit;
};

/* Parse ?limit= (1..GF_LIMIT_PAGE_MAX) and ?cursor=. GF_ERR_INVAL (recorded) when bad. */
enum gf_err gf_page_parse(struct gf_req *r, struct gf_page *pg);

/* Answer 200 {"items": [col0...], "next_cursor": col1 of the last item or null}. */
enum gf_err gf_reply_page(struct gf_req *r, PGresult *res, const struct gf_page *pg);

/* Answer status with the JSON of column 0 of row 0 of res and an ETag from column 1 when
 * the result has one (the shape of every object statement). res stays the caller's. */
enum gf_err gf_reply_result(struct gf_req *r, const PGresult *res, unsigned status);

/* Run st; no row -> GF_ERR_NOTFOUND (recorded, "no such <what>"); else answer status with
 * the JSON of column 0 and an ETag from column 1 when the statement has one. */
enum gf_err gf_reply_row(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                         unsigned status, const char *what);

/* If-Match header as a version number text ("3" from "\"3\""), NULL when absent.
 * GF_ERR_INVAL (recorded) when it is not one of our ETags. */
enum gf_err gf_req_if_match(struct gf_req *r, const char **version);

/* Run a list statement and answer the page. */
enum gf_err gf_reply_list(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                          const struct gf_page *pg);

/* Run a statement for its effect and answer 204 No Content. */
enum gf_err gf_reply_exec(struct gf_req *r, const struct gf_stmt *st, const char *const *params,
                          const char *what);

/* An optional expiry time field: NULL, or RFC 3339 in the future and within one year.
 * GF_ERR_INVAL (recorded at where) otherwise. */
enum gf_err gf_req_check_expiry(struct gf_req *r, const char *where, const char *value);

/* Map a statement error to a recorded problem: EXISTS -> "<what> already exists" (where =
 * field), others generic. Returns err. */
enum gf_err gf_req_db_fail(struct gf_req *r, enum gf_err err, const char *what,
                           const char *field);

#endif
