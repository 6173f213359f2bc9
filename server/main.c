/* SPDX-License-Identifier: Apache-2.0
 *
 * main.c - gatefleet-server entry point.
 *
 *   gatefleet-server [options]                 serve (HTTP API, web UI)
 *   gatefleet-server [options] migrate         apply migrations and exit
 *   gatefleet-server [options] admin create --email E [--name N] [--password-stdin]
 *   gatefleet-server routes                    print the router table (JSON)
 *   gatefleet-server config-docs               print the configuration table (Markdown)
 *
 * Options are the configuration keys (--listen 127.0.0.1:0, --config FILE, ...). Start-up
 * order: config, logging, master key, database (embedded PostgreSQL when database_url is
 * unset), migrations under an advisory lock, pool, HTTP; then the ready file. SIGTERM or
 * SIGINT stops accepting, drains in-flight requests and exits 0.
 */
#define GF_LOG_MODULE "main"
#include "core/admin.h"
#include "core/app.h"
#include "core/masterkey.h"
#include "core/pgembed.h"
#include "events/bus.h"
#include "events/logview.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "mqtt/fleet.h"
#include "rollout/engine.h"
#include "store/db.h"
#include "store/migrate.h"

#include <malloc.h>

#include "alloc.h"
#include "file.h"
#include "ids.h"
#include "log.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef GF_VERSION
#define GF_VERSION "0.0.0"
#endif

enum command { CMD_SERVE, CMD_MIGRATE, CMD_ADMIN_CREATE };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gatefleet-server [--config FILE] [--<key> value ...] [command]\n"
            "commands:\n"
            "  (none)            run the server\n"
            "  migrate           apply database migrations and exit\n"
            "  admin create --email E [--name N] [--password-stdin]\n"
            "                    create a server administrator\n"
            "  routes            print the router table as JSON\n"
            "  config-docs       print the configuration keys as Markdown\n"
            "options: every configuration key, e.g. --listen 127.0.0.1:0; --print-config\n");
}

static int open_database(struct gf_app *app, struct gf_pgembed **pg, struct gf_diag *diag)
{
    char conninfo[PATH_MAX + 128];
    const char *url = app->cfg.database_url;
    struct gf_dbconn *c = NULL;
    int applied = 0;

    if (url == NULL) {
        if (gf_pgembed_start(app->cfg.state_dir, app->cfg.pg_user, app->cfg.pg_bindir, conninfo,
                             sizeof(conninfo), pg, diag) != GF_OK) {
            return -1;
        }
        url = conninfo;
    }
    if (gf_db_open(url, (int)app->cfg.db_pool_size, (int)app->cfg.db_acquire_timeout, &app->db,
                   diag) != GF_OK) {
        return -1;
    }
    if (gf_db_acquire(app->db, &c) != GF_OK) {
        gf_diag_set(diag, GF_ERR_UNAVAILABLE, "database_url", "no database connection");
        return -1;
    }
    enum gf_err err = gf_migrate_apply(c, &applied, diag);
    gf_db_release(app->db, c);
    if (err != GF_OK) {
        return -1;
    }
    gf_log_info("schema current", "version=%d applied=%d", gf_migrate_latest(), applied);
    return 0;
}

static int write_ready(const char *path, const char *url)
{
    char line[300];
    int n = snprintf(line, sizeof(line), "%s\n", url);

    return gf_file_write_atomic(path, line, (size_t)n, 0644) == GF_OK ? 0 : -1;
}

static int serve(struct gf_app *app)
{
    char url[300];
    struct gf_http *http = NULL;
    struct gf_diag diag = {{0}, {0}};
    sigset_t set;
    int sig = 0, rc = 1;

    if (gf_fleet_start(app, &app->fleet) != GF_OK) {
        gf_log_error("cannot start the MQTT side", "error=%s", "fleet");
        goto out;
    }
    if (gf_rollout_engine_start(app, &app->rollouts) != GF_OK) {
        gf_log_error("cannot start the rollout engine", "error=%s", "rollouts");
        goto out;
    }
    if (gf_event_bus_start(app, &app->events) != GF_OK) {
        gf_log_error("cannot start the event bus", "error=%s", "events");
        goto out;
    }
    if (gf_logviews_start(app, &app->logviews) != GF_OK) {
        gf_log_error("cannot start the log stream viewers", "error=%s", "logviews");
        goto out;
    }
    if (gf_http_start(app, url, sizeof(url), &http, &diag) != GF_OK) {
        gf_log_error("cannot start HTTP", "key=%s error=\"%s\"", diag.where, diag.msg);
        goto out;
    }
    if (app->cfg.ready_file != NULL && write_ready(app->cfg.ready_file, url) != 0) {
        gf_log_error("cannot write ready_file", "path=%s", app->cfg.ready_file);
        gf_http_stop(http, 0);
        http = NULL;
        goto out;
    }
    gf_log_info("listening", "url=%s web_root=%s", url,
                app->cfg.web_root ? app->cfg.web_root : "-");
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    gf_log_info("stopping", "signal=%d", sig);
    gf_http_stop(http, app->cfg.shutdown_timeout);
    http = NULL;
    rc = 0;
out:
    /* After HTTP: no stream reads the ring or a log view any more. */
    gf_logviews_stop(app->logviews);
    app->logviews = NULL;
    gf_event_bus_stop(app->events);
    app->events = NULL;
    gf_rollout_engine_stop(app->rollouts);
    app->rollouts = NULL;
    gf_fleet_stop(app->fleet);
    app->fleet = NULL;
    return rc;
}

static int run(struct gf_app *app, enum command cmd, int argc, char **argv, int argi)
{
    struct gf_pgembed *pg = NULL;
    struct gf_diag diag = {{0}, {0}};
    char keypath[PATH_MAX];
    int rc = 1;

    if (gf_file_mkdirs(app->cfg.state_dir, 0700) != GF_OK) {
        gf_log_error("cannot create state_dir", "path=%s", app->cfg.state_dir);
        return 1;
    }
    snprintf(keypath, sizeof(keypath), "%s/master.key", app->cfg.state_dir);
    if (gf_masterkey_load(app->cfg.master_key_file ? app->cfg.master_key_file : keypath,
                          app->master_key, &diag) != GF_OK) {
        gf_log_error("bad master key", "key=%s error=\"%s\"", diag.where, diag.msg);
        return 1;
    }
    if (open_database(app, &pg, &diag) != 0) {
        gf_log_error("database not ready", "key=%s error=\"%s\"", diag.where, diag.msg);
        goto out;
    }
    if (cmd == CMD_MIGRATE) {
        rc = 0;
    } else if (cmd == CMD_ADMIN_CREATE) {
        struct gf_dbconn *c = NULL;
        if (gf_db_acquire(app->db, &c) == GF_OK) {
            rc = gf_admin_create(c, argc, argv, argi) == GF_OK ? 0 : 1;
            gf_db_release(app->db, c);
        }
    } else {
        app->metrics = gf_metrics_new(gf_nroutes);
        rc = app->metrics ? serve(app) : 1;
    }
out:
    gf_db_close(app->db);
    gf_metrics_free(app->metrics);
    gf_pgembed_stop(pg);
    return rc;
}

int main(int argc, char **argv)
{
    static struct gf_app app;
    /* Few malloc arenas: threads (HTTP, ingest, paho) otherwise each grow their own, and
     * resident memory follows the thread count instead of the work. */
    mallopt(M_ARENA_MAX, 2);
    struct gf_diag diag = {{0}, {0}};
    enum gf_log_level level = GF_LOG_INFO;
    enum command cmd = CMD_SERVE;
    int argi = 1, print = 0, rc;
    sigset_t set;

    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("gatefleet-server %s\n", GF_VERSION);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "routes")) {
        gf_router_print_json(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "config-docs")) {
        gf_conf_print_markdown(&gf_server_config_table, stdout);
        return 0;
    }
    if (gf_server_config_load(&app.cfg, argc, argv, &argi, &print, &diag) != GF_OK) {
        fprintf(stderr, "gatefleet-server: configuration error: %s\n", diag.msg);
        gf_server_config_free(&app.cfg);
        return 2;
    }
    if (print) {
        gf_conf_print(&gf_server_config_table, &app.cfg, stdout);
        gf_server_config_free(&app.cfg);
        return 0;
    }
    if (argi < argc && !strcmp(argv[argi], "migrate") && argi + 1 == argc) {
        cmd = CMD_MIGRATE;
    } else if (argi + 1 < argc && !strcmp(argv[argi], "admin") &&
               !strcmp(argv[argi + 1], "create")) {
        cmd = CMD_ADMIN_CREATE;
        argi += 2;
    } else if (argi < argc) {
        fprintf(stderr, "gatefleet-server: unknown command or argument \"%s\"\n", argv[argi]);
        usage(stderr);
        gf_server_config_free(&app.cfg);
        return 2;
    }
    gf_log_parse_level(app.cfg.log_level, &level);
    gf_log_set_level(level);
    if (gf_ids_init() != GF_OK) {
        fprintf(stderr, "gatefleet-server: libsodium failed to initialise\n");
        return 1;
    }
    /* Block the stop signals in every thread; serve() waits for them with sigwait(). */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = run(&app, cmd, argc, argv, argi);
    gf_server_config_free(&app.cfg);
    return rc;
}
