/* SPDX-License-Identifier: Apache-2.0
 *
 * pool.c - fixed-size libpq pool with lazy connect, reconnect after failure, bounded waits,
 * per-connection lazy PQprepare, and SQLSTATE → gf_err mapping.
 */
#define GF_LOG_MODULE "db"
#include "db.h"

#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define MAX_PREPARED 256

struct gf_dbconn {
    PGconn *pg;
    int in_use;
    const struct gf_stmt *prepared[MAX_PREPARED];
    int nprepared;
};

struct gf_db {
    char *conninfo;
    int size;
    int timeout_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gf_dbconn *conns;
    struct gf_db_stats stats;
};

static PGconn *connect_one(const char *conninfo, struct gf_diag *diag)
{
    PGconn *pg = PQconnectdb(conninfo);

    if (PQstatus(pg) != CONNECTION_OK) {
        /* libpq's message can include the host but never the password. */
        gf_diag_set(diag, GF_ERR_UNAVAILABLE, "database_url", "cannot connect to PostgreSQL: %s",
                    PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PGresult *r = PQexec(pg, "SET application_name = 'gatefleet-server'; SET TIME ZONE 'UTC';"
                                 " SET client_min_messages = warning");
    PQclear(r);
    return pg;
}

enum gf_err gf_db_open(const char *conninfo, int size, int acquire_timeout_s, struct gf_db **out,
                       struct gf_diag *diag)
{
    struct gf_db *db = gf_calloc(1, sizeof(*db));

    if (db == NULL) {
        return GF_ERR_NOMEM;
    }
    db->conninfo = gf_strdup(conninfo);
    db->conns = gf_calloc((size_t)size, sizeof(*db->conns));
    if (db->conninfo == NULL || db->conns == NULL) {
        gf_free(db->conninfo);
        gf_free(db->conns);
        gf_free(db);
        return GF_ERR_NOMEM;
    }
    db->size = size;
    db->timeout_s = acquire_timeout_s;
    db->stats.size = size;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    db->conns[0].pg = connect_one(conninfo, diag);
    if (db->conns[0].pg == NULL) {
        gf_db_close(db);
        return GF_ERR_UNAVAILABLE;
    }
    db->stats.open = 1;
    *out = db;
    return GF_OK;
}

void gf_db_close(struct gf_db *db)
{
    if (db == NULL) {
        return;
    }
    for (int i = 0; i < db->size; i++) {
        if (db->conns[i].pg != NULL) {
            PQfinish(db->conns[i].pg);
        }
    }
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    gf_free(db->conns);
    gf_free(db->conninfo);
    gf_free(db);
}

static struct gf_dbconn *take_free(struct gf_db *db)
{
    struct gf_dbconn *spare = NULL;

    for (int i = 0; i < db->size; i++) {
        struct gf_dbconn *c = &db->conns[i];
        if (c->in_use) {
            continue;
        }
        if (c->pg != NULL) {
            return c; /* prefer an open connection */
        }
        if (spare == NULL) {
            spare = c;
        }
    }
    return spare;
}

enum gf_err gf_db_acquire(struct gf_db *db, struct gf_dbconn **out)
{
    struct timespec deadline;
    struct gf_dbconn *c;
    int waited = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += db->timeout_s;
    pthread_mutex_lock(&db->mu);
    db->stats.acquires++;
    while ((c = take_free(db)) == NULL) {
        waited = 1;
        if (pthread_cond_timedwait(&db->cv, &db->mu, &deadline) == ETIMEDOUT) {
            db->stats.waits++;
            db->stats.timeouts++;
            pthread_mutex_unlock(&db->mu);
            return GF_ERR_UNAVAILABLE;
        }
    }
    c->in_use = 1;
    db->stats.in_use++;
    db->stats.waits += (unsigned long)waited;
    pthread_mutex_unlock(&db->mu);

    if (c->pg != NULL && (PQconsumeInput(c->pg) == 0 || PQstatus(c->pg) != CONNECTION_OK)) {
        /* An idle connection the server closed (restart, pg_terminate_backend): reading
         * without blocking finds the EOF or the FATAL notice. Reconnect instead of failing
         * the caller's first statement. */
        PQfinish(c->pg);
        c->pg = NULL;
        pthread_mutex_lock(&db->mu);
        db->stats.open--;
        pthread_mutex_unlock(&db->mu);
    }
    if (c->pg == NULL) {
        /* Connect outside the lock: it can take a while. */
        c->pg = connect_one(db->conninfo, NULL);
        c->nprepared = 0;
        if (c->pg == NULL) {
            pthread_mutex_lock(&db->mu);
            c->in_use = 0;
            db->stats.in_use--;
            pthread_cond_signal(&db->cv);
            pthread_mutex_unlock(&db->mu);
            gf_log_warn("database connection failed", "%s", "");
            return GF_ERR_UNAVAILABLE;
        }
        pthread_mutex_lock(&db->mu);
        db->stats.open++;
        pthread_mutex_unlock(&db->mu);
    }
    *out = c;
    return GF_OK;
}

void gf_db_release(struct gf_db *db, struct gf_dbconn *c)
{
    int closed = 0;

    if (c == NULL) {
        return;
    }
    if (c->pg != NULL && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
        closed = 1;
    } else if (c->pg != NULL && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
        if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
            PQfinish(c->pg);
            c->pg = NULL;
            closed = 1;
        }
    }
    pthread_mutex_lock(&db->mu);
    c->in_use = 0;
    db->stats.in_use--;
    if (closed) {
        db->stats.open--;
    }
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

static enum gf_err map_result(struct gf_dbconn *c, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    const char *state;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return GF_OK;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        gf_log_error("database connection lost", "stmt=%s", what);
        return GF_ERR_UNAVAILABLE;
    }
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state == NULL) {
        state = "";
    }
    if (strcmp(state, "23505") == 0) {
        return GF_ERR_EXISTS;
    }
    if (strcmp(state, "23503") == 0) {
        return GF_ERR_NOTFOUND;
    }
    if (strcmp(state, "22P02") == 0 || strcmp(state, "23514") == 0 ||
        strncmp(state, "22", 2) == 0) {
        return GF_ERR_INVAL;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        return GF_ERR_CONFLICT;
    }
    gf_log_error("statement failed", "stmt=%s sqlstate=%s error=\"%.200s\"", what, state,
                 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    return GF_ERR_DB;
}

static int is_prepared(const struct gf_dbconn *c, const struct gf_stmt *st)
{
    for (int i = 0; i < c->nprepared; i++) {
        if (c->prepared[i] == st) {
            return 1;
        }
    }
    return 0;
}

enum gf_err gf_db_exec(struct gf_dbconn *c, const struct gf_stmt *st, const char *const *params,
                       PGresult **res)
{
    PGresult *r;
    enum gf_err err;

    if (!is_prepared(c, st)) {
        r = PQprepare(c->pg, st->name, st->sql, st->nparams, NULL);
        err = map_result(c, r, st->name);
        PQclear(r);
        if (err != GF_OK) {
            return err;
        }
        if (c->nprepared < MAX_PREPARED) {
            c->prepared[c->nprepared++] = st;
        }
    }
    r = PQexecPrepared(c->pg, st->name, st->nparams, params, NULL, NULL, 0);
    err = map_result(c, r, st->name);
    if (err != GF_OK || res == NULL) {
        PQclear(r);
    } else {
        *res = r;
    }
    return err;
}

enum gf_err gf_db_exec_sql(struct gf_dbconn *c, const char *sql)
{
    PGresult *r = PQexec(c->pg, sql);
    enum gf_err err = map_result(c, r, "sql");

    PQclear(r);
    return err;
}

enum gf_err gf_db_begin(struct gf_dbconn *c)
{
    return gf_db_exec_sql(c, "BEGIN");
}

enum gf_err gf_db_commit(struct gf_dbconn *c)
{
    return gf_db_exec_sql(c, "COMMIT");
}

void gf_db_rollback(struct gf_dbconn *c)
{
    if (c != NULL && c->pg != NULL && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
    }
}

int gf_db_in_tx(struct gf_dbconn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c->pg);

    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

PGconn *gf_db_pg(struct gf_dbconn *c)
{
    return c->pg;
}

void gf_db_stats(struct gf_db *db, struct gf_db_stats *out)
{
    pthread_mutex_lock(&db->mu);
    *out = db->stats;
    pthread_mutex_unlock(&db->mu);
}

const char *gf_db_val(const PGresult *res, int row, int col)
{
    if (res == NULL || row >= PQntuples(res) || col >= PQnfields(res) ||
        PQgetisnull(res, row, col)) {
        return NULL;
    }
    return PQgetvalue(res, row, col);
}

const char *gf_db_conninfo(const struct gf_db *db)
{
    return db->conninfo;
}
