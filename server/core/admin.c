/* SPDX-License-Identifier: Apache-2.0
 *
 * admin.c - the `admin create` subcommand.
 */
#include "admin.h"

#include "../store/db.h"
#include "../store/q_access.h"
#include "../store/q_users.h"
#include "gf_limits.h"
#include "password.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int read_password(char *out, size_t cap)
{
    if (fgets(out, (int)cap, stdin) == NULL) {
        return -1;
    }
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) {
        out[--n] = '\0';
    }
    return 0;
}

enum gf_err gf_admin_create(struct gf_dbconn *db, int argc, char **argv, int argi)
{
    const char *email = NULL, *name = "";
    int from_stdin = 0;
    char pw[GF_LIMIT_PASSWORD_MAX + 2], hash[GF_PASSWORD_HASH_MAX];
    struct gf_diag diag;
    PGresult *res = NULL;
    enum gf_err err;

    for (int i = argi; i < argc; i++) {
        if (strcmp(argv[i], "--email") == 0 && i + 1 < argc) {
            email = argv[++i];
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--password-stdin") == 0) {
            from_stdin = 1;
        } else {
            fprintf(stderr, "admin create: unknown argument %s\n"
                            "usage: gatefleet-server [options] admin create --email E "
                            "[--name N] [--password-stdin]\n", argv[i]);
            return GF_ERR_INVAL;
        }
    }
    if (email == NULL || strchr(email, '@') == NULL || strlen(email) > GF_LIMIT_EMAIL_CHARS) {
        fprintf(stderr, "admin create: --email must be an e-mail address\n");
        return GF_ERR_INVAL;
    }
    if (from_stdin) {
        if (read_password(pw, sizeof(pw)) != 0 ||
            gf_password_check(pw, "password", &diag) != GF_OK) {
            fprintf(stderr, "admin create: password from stdin: %s\n",
                    diag.msg[0] ? diag.msg : "nothing read");
            return GF_ERR_INVAL;
        }
    } else {
        gf_password_generate(pw, sizeof(pw));
    }
    err = gf_password_hash(pw, hash, sizeof(hash));
    if (err == GF_OK) {
        const char *p[4] = {email, name, hash, "true"};
        err = gf_db_exec(db, &gf_q_user_create, p, &res);
    }
    if (err == GF_ERR_EXISTS) {
        fprintf(stderr, "admin create: a user with e-mail %s already exists\n", email);
    } else if (err != GF_OK) {
        fprintf(stderr, "admin create: failed: %s\n", gf_err_str(err));
    } else {
        const char *ap[10] = {NULL, "system", NULL, "gatefleet-server admin create",
                              "user.create", "user", PQgetvalue(res, 0, 2), "success", "cli",
                              "{\"is_admin\": true}"};
        gf_db_exec(db, &gf_q_audit_insert, ap, NULL);
        printf("created server admin %s\n", email);
        if (!from_stdin) {
            printf("password: %s\n", pw);
        }
        fflush(stdout);
    }
    PQclear(res);
    sodium_memzero(pw, sizeof(pw));
    return err;
}
