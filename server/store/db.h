/* SPDX-License-Identifier: Apache-2.0
 *
 * db.h - the PostgreSQL connection pool and statement execution (libpq).
 *
 * A pool holds up to `size` connections, opened lazily and re-opened after a failure.
 * Requests acquire one connection for their whole life and release it in one place.
 * Statements are declared as static struct gf_stmt values in the q_*.c files and prepared
 * lazily on each connection the first time they run there (PQprepare), so every query is a
 * prepared statement with parameters, never text pasted into SQL.
 * Thread-safe: acquire/release from any thread; a connection is used by one thread at a time.
 */
#ifndef GF_SERVER_DB_H
#define GF_SERVER_DB_H

#include "err.h"

#include <libpq-fe.h>
#include <stddef.h>

struct gf_db;
struct gf_dbconn;

/* A prepared statement. Plain value struct, declared static const in the q_*.c files. */
struct gf_stmt {
    const char *name; /* unique, e.g. "tenant_get" */
    const char *sql;
    int nparams;
};

/* Pool counters for /metrics. Plain value struct. */
struct gf_db_stats {
    int size;
    int open;
    int in_use;
    unsigned long acquires;
    unsigned long waits;    /* acquires that had to wait */
    unsigned long timeouts; /* acquires that gave up */
    unsigned long errors;   /* failed statements */
};

/* New pool over conninfo (copied). Opens one connection to check it works. Caller owns (free
 * with gf_db_close). GF_ERR_UNAVAILABLE with diag if the database cannot be reached. */
enum gf_err gf_db_open(const char *conninfo, int size, int acquire_timeout_s, struct gf_db **out,
                       struct gf_diag *diag);

/* Close every connection and free. All connections must have been released. */
void gf_db_close(struct gf_db *db);

/* Borrow a connection; waits up to the acquire timeout. GF_ERR_UNAVAILABLE if none can be had
 * (timeout or the database is down). Release with gf_db_release. */
enum gf_err gf_db_acquire(struct gf_db *db, struct gf_dbconn **out);

/* Return a connection. A connection left inside a transaction is rolled back; a broken one
 * is closed and re-opened on the next acquire. */
void gf_db_release(struct gf_db *db, struct gf_dbconn *c);

/* Run st with params (text format, NULL = SQL NULL). *res (optional) receives the result
 * on success: caller owns (PQclear). Errors: GF_ERR_EXISTS (unique violation),
 * GF_ERR_NOTFOUND (foreign key), GF_ERR_INVAL (bad text representation / check violation),
 * GF_ERR_CONFLICT (serialization failure), GF_ERR_UNAVAILABLE (connection lost), GF_ERR_DB. */
enum gf_err gf_db_exec(struct gf_dbconn *c, const struct gf_stmt *st, const char *const *params,
                       PGresult **res);

/* Plain SQL without parameters (BEGIN, COMMIT, migrations). Same errors. */
enum gf_err gf_db_exec_sql(struct gf_dbconn *c, const char *sql);

enum gf_err gf_db_begin(struct gf_dbconn *c);
enum gf_err gf_db_commit(struct gf_dbconn *c);
void gf_db_rollback(struct gf_dbconn *c);

/* True while the connection is inside a transaction block. */
int gf_db_in_tx(struct gf_dbconn *c);

/* The underlying libpq handle (borrowed). */
PGconn *gf_db_pg(struct gf_dbconn *c);

/* The pool's connection string (for a dedicated connection, e.g. LISTEN). Borrowed. */
const char *gf_db_conninfo(const struct gf_db *db);

/* Snapshot of the counters. */
void gf_db_stats(struct gf_db *db, struct gf_db_stats *out);

/* Value of column col in row 0 of res, or NULL if no row or SQL NULL. Borrowed from res. */
const char *gf_db_val(const PGresult *res, int row, int col);

#endif
