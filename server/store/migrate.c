/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate.c - apply the embedded migrations under an advisory lock.
 */
#define GF_LOG_MODULE "migrate"
#include "migrate.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gf_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct gf_embedded_file gf_migrations[];

/* Arbitrary constant: "gfmigrat" */
#define LOCK_KEY "7451648530471658868"

static int file_version(const char *name)
{
    char *end;
    long v = strtol(name, &end, 10);

    return (end != name && *end == '_' && v > 0 && v < 100000) ? (int)v : -1;
}

int gf_migrate_latest(void)
{
    int latest = 0;

    for (const struct gf_embedded_file *f = gf_migrations; f->name != NULL; f++) {
        int v = file_version(f->name);
        if (v > latest) {
            latest = v;
        }
    }
    return latest;
}

enum gf_err gf_migrate_current(struct gf_dbconn *c, int *version)
{
    PGresult *r = PQexec(gf_db_pg(c), "SELECT coalesce(max(version), 0) FROM schema_migrations");
    enum gf_err err = GF_OK;

    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        *version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "42P01") == 0) {
            *version = 0; /* no table yet: empty database */
        } else {
            err = GF_ERR_DB;
        }
    }
    PQclear(r);
    return err;
}

static enum gf_err apply_one(struct gf_dbconn *c, const struct gf_embedded_file *f, int v,
                             struct gf_diag *diag)
{
    char insert[256];
    enum gf_err err = gf_db_begin(c);

    if (err == GF_OK) {
        err = gf_db_exec_sql(c, (const char *)f->data);
    }
    if (err == GF_OK) {
        snprintf(insert, sizeof(insert),
                 "INSERT INTO schema_migrations (version, name) VALUES (%d, '%.80s')", v, f->name);
        err = gf_db_exec_sql(c, insert);
    }
    if (err == GF_OK) {
        err = gf_db_commit(c);
    }
    if (err != GF_OK) {
        gf_diag_set(diag, GF_ERR_DB, f->name, "migration %s failed: %s", f->name,
                    PQerrorMessage(gf_db_pg(c)));
        gf_db_rollback(c);
        return GF_ERR_DB;
    }
    gf_log_info("migration applied", "file=%s", f->name);
    return GF_OK;
}

enum gf_err gf_migrate_apply(struct gf_dbconn *c, int *applied, struct gf_diag *diag)
{
    enum gf_err err;
    int current = 0;
    int n = 0;

    err = gf_db_exec_sql(c, "SELECT pg_advisory_lock(" LOCK_KEY ")");
    if (err != GF_OK) {
        return gf_diag_set(diag, err, "database", "cannot take the migration lock");
    }
    err = gf_db_exec_sql(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version integer PRIMARY KEY, name text NOT NULL,"
                            " applied_at timestamptz NOT NULL DEFAULT now())");
    if (err == GF_OK) {
        err = gf_migrate_current(c, &current);
    }
    for (const struct gf_embedded_file *f = gf_migrations; err == GF_OK && f->name != NULL;
         f++) {
        int v = file_version(f->name);
        if (v < 0) {
            err = gf_diag_set(diag, GF_ERR_INTERNAL, f->name, "bad migration file name %s",
                              f->name);
        } else if (v > current) {
            err = apply_one(c, f, v, diag);
            n += err == GF_OK;
        }
    }
    gf_db_exec_sql(c, "SELECT pg_advisory_unlock(" LOCK_KEY ")");
    if (err == GF_OK && applied != NULL) {
        *applied = n;
    }
    return err;
}
