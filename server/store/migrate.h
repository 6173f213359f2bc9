/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate.h - forward-only schema migrations.
 *
 * The numbered SQL files of migrations/ are embedded in the binary at build time. They are
 * applied in order, each in its own transaction, under a PostgreSQL advisory lock, so two
 * servers starting together on an empty database apply each file exactly once; the second
 * waits and then finds nothing to do. Applied versions are rows of schema_migrations.
 */
#ifndef GF_SERVER_MIGRATE_H
#define GF_SERVER_MIGRATE_H

#include "db.h"

/* Apply pending migrations. *applied (optional) receives how many ran. GF_ERR_DB with diag
 * naming the file on failure (that file's changes are rolled back). */
enum gf_err gf_migrate_apply(struct gf_dbconn *c, int *applied, struct gf_diag *diag);

/* Highest version the binary knows. */
int gf_migrate_latest(void);

/* Highest version applied in the database, 0 for an empty one. GF_ERR_DB on failure. */
enum gf_err gf_migrate_current(struct gf_dbconn *c, int *version);

#endif
