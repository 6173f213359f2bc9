/* SPDX-License-Identifier: Apache-2.0
 *
 * builtin.c - the built-in commands (cmd_int.h): their names, the args each accepts, and the
 * call of the agent's hook that runs it. ping is answered here; health.now,
 * inventory.refresh, bundle.status, logs.tail and agent.restart need agent state and go
 * through struct gf_cmd_hooks; shell (off unless commands_allow_shell) becomes the argv
 * /bin/sh -c <cmdline> and runs as a process like an allowlist entry. Args are checked as
 * strictly as the allowlist's: unknown keys and bad values are rejected with their path.
 */
#include "cmd_int.h"

#include "alloc.h"
#include "ids.h"
#include "json.h"

#include <string.h>

#ifndef GF_VERSION
#define GF_VERSION "0.0.0"
#endif

#define SHELL_PATH "/bin/sh"
#define LOG_PATH_MAX 4096
#define LOG_LINES_DEFAULT 100

static const char *const names[] = {
    [GF_CMD_PING] = "ping",
    [GF_CMD_HEALTH_NOW] = "health.now",
    [GF_CMD_INVENTORY_REFRESH] = "inventory.refresh",
    [GF_CMD_BUNDLE_STATUS] = "bundle.status",
    [GF_CMD_LOGS_TAIL] = "logs.tail",
    [GF_CMD_AGENT_RESTART] = "agent.restart",
    [GF_CMD_SHELL] = "shell",
};

enum gf_cmd_kind gf_cmd_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(names[i], name) == 0) {
            return (enum gf_cmd_kind)i;
        }
    }
    return GF_CMD_EXEC;
}

int gf_cmd_is_builtin(const char *name)
{
    return gf_cmd_builtin_find(name) != GF_CMD_EXEC;
}

int gf_cmd_builtin_available(enum gf_cmd_kind k, const struct gf_cmd_hooks *h, int allow_shell)
{
    switch (k) {
    case GF_CMD_PING:
        return 1;
    case GF_CMD_HEALTH_NOW:
        return h->health_now != NULL;
    case GF_CMD_INVENTORY_REFRESH:
        return h->inventory_refresh != NULL;
    case GF_CMD_BUNDLE_STATUS:
        return h->bundle_status != NULL;
    case GF_CMD_LOGS_TAIL:
        return h->logs_tail != NULL;
    case GF_CMD_AGENT_RESTART:
        return h->restart != NULL;
    case GF_CMD_SHELL:
        return allow_shell;
    case GF_CMD_EXEC:
        break;
    }
    return 0;
}

static enum gf_err check_logs(const json_t *args, struct gf_diag *diag)
{
    static const struct gf_json_field f[] = {
        {"path", GF_JSON_STRING, 0, 0, 2, LOG_PATH_MAX, 0, 0},
        {"unit", GF_JSON_STRING, 0, 0, 1, GF_UNIT_NAME_MAX, 0, 0},
        {"lines", GF_JSON_INT, 0, 0, 0, 0, 1, GF_CMD_LOG_LINES_MAX},
    };
    enum gf_err err = gf_json_check(args, f, sizeof(f) / sizeof(f[0]), "/args", diag);
    const char *path = gf_json_str(args, "path"), *unit = gf_json_str(args, "unit");

    if (err != GF_OK) {
        return err;
    }
    if ((path == NULL) == (unit == NULL)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/args", "logs.tail takes either path or unit");
    }
    if (path != NULL && path[0] != '/') {
        return gf_diag_set(diag, GF_ERR_INVAL, "/args/path", "/args/path must be absolute");
    }
    if (unit != NULL && !gf_unit_name_ok(unit)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/args/unit",
                           "/args/unit must be characters of A-Z a-z 0-9 @ . _ : -");
    }
    return GF_OK;
}

/* /bin/sh -c cmdline as one allocation. */
static enum gf_err shell_argv(const json_t *args, char ***argv, struct gf_diag *diag)
{
    static const struct gf_json_field f[] = {
        {"cmdline", GF_JSON_STRING, 1, 0, 1, GF_CMD_SHELL_MAX, 0, 0},
    };
    enum gf_err err = gf_json_check(args, f, 1, "/args", diag);
    const char *cmdline = gf_json_str(args, "cmdline");
    size_t n;
    char **vec;
    char *p;

    if (err != GF_OK) {
        return err;
    }
    n = strlen(cmdline) + 1;
    if (n > GF_CMD_SHELL_MAX + 1) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/args/cmdline", "cmdline longer than %d bytes",
                           GF_CMD_SHELL_MAX);
    }
    vec = gf_malloc(4 * sizeof(char *) + sizeof(SHELL_PATH) + 3 + n);
    if (vec == NULL) {
        return GF_ERR_NOMEM;
    }
    p = (char *)(vec + 4);
    memcpy(p, SHELL_PATH, sizeof(SHELL_PATH));
    memcpy(p + sizeof(SHELL_PATH), "-c", 3);
    memcpy(p + sizeof(SHELL_PATH) + 3, cmdline, n);
    vec[0] = p;
    vec[1] = p + sizeof(SHELL_PATH);
    vec[2] = p + sizeof(SHELL_PATH) + 3;
    vec[3] = NULL;
    *argv = vec;
    return GF_OK;
}

enum gf_err gf_cmd_builtin_check(enum gf_cmd_kind k, const json_t *args, char ***argv,
                                 struct gf_diag *diag)
{
    switch (k) {
    case GF_CMD_LOGS_TAIL:
        return check_logs(args, diag);
    case GF_CMD_SHELL:
        return shell_argv(args, argv, diag);
    case GF_CMD_EXEC:
        return GF_ERR_INTERNAL;
    default:
        /* the others take no arguments */
        return gf_json_check(args, NULL, 0, "/args", diag);
    }
}

static enum gf_err ping(long long uptime_s, json_t **result)
{
    json_t *o = json_pack("{s:b, s:s, s:I}", "pong", 1, "agent_version", GF_VERSION, "uptime_s",
                          (json_int_t)uptime_s);

    if (o == NULL) {
        return GF_ERR_NOMEM;
    }
    *result = o;
    return GF_OK;
}

/* logs.tail's args with lines made explicit, for the hook. */
static enum gf_err logs_tail(const struct gf_cmd_hooks *h, const json_t *args, json_t **result)
{
    json_t *a = json_deep_copy(args);
    enum gf_err err;

    if (a == NULL || (!json_is_integer(json_object_get(a, "lines")) &&
                      json_object_set_new(a, "lines", json_integer(LOG_LINES_DEFAULT)) != 0)) {
        json_decref(a);
        return GF_ERR_NOMEM;
    }
    err = h->logs_tail(h->ud, a, result);
    json_decref(a);
    return err;
}

enum gf_err gf_cmd_builtin_call(enum gf_cmd_kind k, const struct gf_cmd_hooks *h,
                                const json_t *args, long long uptime_s, json_t **result)
{
    json_t *r = NULL;
    enum gf_err err;

    switch (k) {
    case GF_CMD_PING:
        return ping(uptime_s, result);
    case GF_CMD_HEALTH_NOW:
        err = h->health_now(h->ud, &r);
        break;
    case GF_CMD_INVENTORY_REFRESH:
        err = h->inventory_refresh(h->ud, &r);
        break;
    case GF_CMD_BUNDLE_STATUS:
        err = h->bundle_status(h->ud, &r);
        break;
    case GF_CMD_LOGS_TAIL:
        err = logs_tail(h, args, &r);
        break;
    case GF_CMD_AGENT_RESTART:
        r = json_pack("{s:b}", "restarting", 1);
        err = r != NULL ? GF_OK : GF_ERR_NOMEM;
        break;
    default:
        return GF_ERR_INTERNAL;
    }
    if (err == GF_OK && r == NULL) {
        r = json_object(); /* a hook that succeeded without a value */
        err = r != NULL ? GF_OK : GF_ERR_NOMEM;
    }
    if (err != GF_OK) {
        json_decref(r);
        return err;
    }
    *result = r;
    return GF_OK;
}
