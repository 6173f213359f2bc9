/* SPDX-License-Identifier: Apache-2.0
 *
 * pgembed.c - run initdb/pg_ctl for the embedded database, as an unprivileged user when
 * we are root. Child processes are plain fork+exec with argv arrays (no shell).
 */
#define GF_LOG_MODULE "pgembed"
#include "pgembed.h"

#include "alloc.h"
#include "file.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct gf_pgembed {
    char bindir[PATH_MAX];
    char dir[PATH_MAX];  /* <state_dir>/pg */
    char data[PATH_MAX]; /* <state_dir>/pg/data */
    uid_t uid;
    gid_t gid;
    int drop;    /* run children as uid/gid */
    int started; /* we started it, so we stop it */
};

static int find_bindir(const char *configured, char *out, size_t cap)
{
    DIR *d;
    struct dirent *e;
    long best = -1;

    if (configured != NULL) {
        snprintf(out, cap, "%s", configured);
        return 0;
    }
    d = opendir("/usr/lib/postgresql");
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        char probe[64];
        if (end == e->d_name || *end != '\0' || v < 0 || v > 9999) {
            continue;
        }
        snprintf(probe, sizeof(probe), "/usr/lib/postgresql/%ld/bin/initdb", v);
        if (v > best && access(probe, X_OK) == 0) {
            best = v;
        }
    }
    closedir(d);
    if (best < 0) {
        return -1;
    }
    snprintf(out, cap, "/usr/lib/postgresql/%ld/bin", best);
    return 0;
}

/* Run bindir/prog with args as the PostgreSQL user; returns the exit status or -1. */
static int run(const struct gf_pgembed *pg, const char *prog, const char *const *args)
{
    char path[PATH_MAX];
    const char *argv[16];
    int n = 0;
    int status;
    pid_t pid;

    if (snprintf(path, sizeof(path), "%s/%s", pg->bindir, prog) >= (int)sizeof(path)) {
        return -1;
    }
    argv[n++] = path;
    for (; args[n - 1] != NULL && n < 15; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        if (pg->drop && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 ||
                         setuid(pg->uid) != 0)) {
            _exit(126);
        }
        /* pg_ctl's progress chatter goes to our stderr log, never to stdout (where
         * `admin create` prints its result). */
        if (chdir(pg->dir) != 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            _exit(126);
        }
        execv(path, (char *const *)(void *)argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static enum gf_err prepare_dirs(struct gf_pgembed *pg, const char *state_dir, const char *user,
                                struct gf_diag *diag)
{
    struct sockaddr_un sun;

    if (snprintf(pg->dir, sizeof(pg->dir), "%s/pg", state_dir) >= (int)sizeof(pg->dir) ||
        snprintf(pg->data, sizeof(pg->data), "%s/data", pg->dir) >= (int)sizeof(pg->data)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "state_dir", "state_dir path too long");
    }
    if (strlen(pg->dir) + sizeof("/.s.PGSQL.5432") > sizeof(sun.sun_path)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "state_dir",
                           "state_dir too long for a Unix socket path (%zu bytes max)",
                           sizeof(sun.sun_path) - sizeof("/pg/.s.PGSQL.5432"));
    }
    if (gf_file_mkdirs(pg->dir, 0700) != GF_OK) {
        return gf_diag_set(diag, GF_ERR_IO, "state_dir", "cannot create %s: %s", pg->dir,
                           strerror(errno));
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(user ? user : "gatefleet");
        if (pw == NULL) {
            return gf_diag_set(diag, GF_ERR_CONFIG, "pg_user",
                               "running as root: the embedded PostgreSQL needs the system user "
                               "\"%s\" (create it, or set pg_user, or set database_url)",
                               user ? user : "gatefleet");
        }
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
        pg->drop = 1;
        if (chown(pg->dir, pg->uid, pg->gid) != 0) {
            return gf_diag_set(diag, GF_ERR_IO, "state_dir", "cannot chown %s: %s", pg->dir,
                               strerror(errno));
        }
        /* The user must be able to traverse down to pg->dir. */
        chmod(state_dir, 0711);
    }
    chmod(pg->dir, 0700);
    return GF_OK;
}

static enum gf_err ensure_database(const char *sockdir, char *conninfo, size_t cap,
                                   struct gf_diag *diag)
{
    char admin[PATH_MAX + 64];
    PGconn *c;
    PGresult *r;
    enum gf_err err = GF_OK;

    snprintf(admin, sizeof(admin), "host=%s dbname=postgres user=gatefleet", sockdir);
    c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) {
        err = gf_diag_set(diag, GF_ERR_DB, "database", "embedded PostgreSQL: %s",
                          PQerrorMessage(c));
        goto out;
    }
    r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'gatefleet'");
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        r = PQexec(c, "CREATE DATABASE gatefleet ENCODING 'UTF8' TEMPLATE template0");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            err = gf_diag_set(diag, GF_ERR_DB, "database", "create database: %s",
                              PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    snprintf(conninfo, cap, "host=%s dbname=gatefleet user=gatefleet", sockdir);
out:
    PQfinish(c);
    return err;
}

enum gf_err gf_pgembed_start(const char *state_dir, const char *pg_user, const char *bindir,
                             char *conninfo, size_t cap, struct gf_pgembed **out,
                             struct gf_diag *diag)
{
    struct gf_pgembed *pg = gf_calloc(1, sizeof(*pg));
    char version[PATH_MAX + 16];
    char log[PATH_MAX + 16];
    char opts[PATH_MAX + 64];
    enum gf_err err;

    if (pg == NULL) {
        return GF_ERR_NOMEM;
    }
    if (find_bindir(bindir, pg->bindir, sizeof(pg->bindir)) != 0) {
        err = gf_diag_set(diag, GF_ERR_CONFIG, "pg_bindir",
                          "no PostgreSQL found under /usr/lib/postgresql (install postgresql, "
                          "set pg_bindir, or set database_url)");
        goto fail;
    }
    err = prepare_dirs(pg, state_dir, pg_user, diag);
    if (err != GF_OK) {
        goto fail;
    }
    snprintf(version, sizeof(version), "%s/PG_VERSION", pg->data);
    if (access(version, F_OK) != 0) {
        const char *a[] = {"-D", pg->data, "-U", "gatefleet", "-A", "trust", "-E", "UTF8",
                           "--no-locale", "--no-instructions", NULL};
        gf_log_info("initialising embedded database", "dir=%s", pg->data);
        if (run(pg, "initdb", a) != 0) {
            err = gf_diag_set(diag, GF_ERR_IO, "database", "initdb failed for %s", pg->data);
            goto fail;
        }
    }
    snprintf(log, sizeof(log), "%s/postgres.log", pg->dir);
    snprintf(opts, sizeof(opts), "-c listen_addresses='' -k %s", pg->dir);
    const char *st[] = {"-D", pg->data, "status", NULL};
    if (run(pg, "pg_ctl", st) == 0) {
        gf_log_info("embedded database already running; using it", "dir=%s", pg->data);
    } else {
        const char *a[] = {"-D", pg->data, "-l", log, "-w", "-t", "120", "-o", opts,
                           "start", NULL};
        if (run(pg, "pg_ctl", a) != 0) {
            err = gf_diag_set(diag, GF_ERR_IO, "database",
                              "embedded PostgreSQL did not start; see %s", log);
            goto fail;
        }
        pg->started = 1;
        gf_log_info("embedded database started", "dir=%s", pg->data);
    }
    err = ensure_database(pg->dir, conninfo, cap, diag);
    if (err != GF_OK) {
        gf_pgembed_stop(pg);
        return err;
    }
    *out = pg;
    return GF_OK;
fail:
    gf_free(pg);
    return err;
}

void gf_pgembed_stop(struct gf_pgembed *pg)
{
    if (pg == NULL) {
        return;
    }
    if (pg->started) {
        const char *a[] = {"-D", pg->data, "-m", "fast", "-w", "-t", "60", "stop", NULL};
        if (run(pg, "pg_ctl", a) != 0) {
            gf_log_warn("embedded database did not stop cleanly", "dir=%s", pg->data);
        } else {
            gf_log_info("embedded database stopped", "dir=%s", pg->data);
        }
    }
    gf_free(pg);
}
