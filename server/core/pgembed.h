/* SPDX-License-Identifier: Apache-2.0
 *
 * pgembed.h - the private PostgreSQL instance a single-box server runs when no
 * database_url is configured.
 *
 * Lives under <state_dir>/pg: data/ (initdb on first start), the Unix socket (no TCP:
 * listen_addresses is empty) and postgres.log. When the server runs as root, PostgreSQL runs
 * as the unprivileged system user pg_user (PostgreSQL refuses root). Trust authentication
 * is safe because the socket directory is 0700 and owned by that user.
 * If the instance is already running (e.g. `admin create` while the server runs) it is
 * used and left running.
 */
#ifndef GF_SERVER_PGEMBED_H
#define GF_SERVER_PGEMBED_H

#include "err.h"

#include <stddef.h>

struct gf_pgembed;

/* initdb if needed, start, ensure database "gatefleet" exists. *out: caller owns (stop and
 * free with gf_pgembed_stop). conninfo receives the libpq connection string. */
enum gf_err gf_pgembed_start(const char *state_dir, const char *pg_user, const char *bindir,
                             char *conninfo, size_t cap, struct gf_pgembed **out,
                             struct gf_diag *diag);

/* Stop the instance if this process started it, then free. NULL is a no-op. */
void gf_pgembed_stop(struct gf_pgembed *pg);

#endif
