/* SPDX-License-Identifier: Apache-2.0
 *
 * admin.h - `gatefleet-server admin create`: create a server administrator from the
 * command line (first boot, lost access). The password is read from stdin
 * (--password-stdin) or generated and printed once on stdout.
 */
#ifndef GF_SERVER_ADMIN_H
#define GF_SERVER_ADMIN_H

#include "err.h"

struct gf_dbconn;

/* Parse the subcommand's options from argv[argi..] and create the admin. Writes the
 * outcome to stdout/stderr. GF_ERR_EXISTS when the e-mail is taken. */
enum gf_err gf_admin_create(struct gf_dbconn *db, int argc, char **argv, int argi);

#endif
