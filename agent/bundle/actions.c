/* SPDX-License-Identifier: Apache-2.0
 *
 * actions.c - the local action map (actions.h): parsing the `name = /abs/command args` file
 * into fixed argv vectors, and running one action through the agent's child-process runner
 * (proc.h: own process group, stdin from /dev/null, bounded output, the group killed at the
 * deadline) with GATEFLEET_BUNDLE_DIR added to the environment. The output kept for the
 * status reason is capped at GF_ACTIONS_OUTPUT bytes.
 */
#define GF_LOG_MODULE "actions"
#include "actions.h"

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "gf_limits.h"
#include "log.h"
#include "manifest.h"
#include "proc.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define ENV_NAME "GATEFLEET_BUNDLE_DIR="

struct action {
    char name[GF_MANIFEST_ACTION_MAX + 1];
    char *line; /* owned: the command, blanks replaced by NULs; argv points into it */
    char *argv[GF_ACTIONS_ARGV + 1];
};

struct gf_actions {
    size_t n;
    struct action a[GF_ACTIONS_MAX];
};

/* ---- loading ---- */

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > GF_MANIFEST_ACTION_MAX ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._:-", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

static const struct action *find(const struct gf_actions *a, const char *name)
{
    for (size_t i = 0; a != NULL && i < a->n; i++) {
        if (strcmp(a->a[i].name, name) == 0) {
            return &a->a[i];
        }
    }
    return NULL;
}

/* Split cmd (owned by act) on blanks into act->argv. Returns an error sentence or NULL. */
static const char *split(struct action *act)
{
    size_t argc = 0;
    char *p = act->line;

    while (*p != '\0') {
        while (blank(*p)) {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        if (argc == GF_ACTIONS_ARGV) {
            return "too many arguments";
        }
        act->argv[argc++] = p;
        while (*p != '\0' && !blank(*p)) {
            p++;
        }
    }
    act->argv[argc] = NULL;
    if (argc == 0) {
        return "empty command";
    }
    return act->argv[0][0] == '/' ? NULL : "the command must start with an absolute path";
}

/* One entry: name = command. where is "file:line". */
static enum gf_err parse_entry(void *ud, const char *name, size_t nlen, const char *cmd,
                               size_t clen, const char *where, struct gf_diag *diag)
{
    struct gf_actions *map = ud;
    const char *why;
    struct action *act;

    if (!name_ok(name, nlen)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where,
                           "bad action name (1-%u characters of a-z 0-9 . _ : -)",
                           GF_MANIFEST_ACTION_MAX);
    }
    if (map->n == GF_ACTIONS_MAX) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "more than %d actions", GF_ACTIONS_MAX);
    }
    act = &map->a[map->n];
    memcpy(act->name, name, nlen);
    act->name[nlen] = '\0';
    if (find(map, act->name) != NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "action %s defined twice", act->name);
    }
    act->line = gf_malloc(clen + 1);
    if (act->line == NULL) {
        return GF_ERR_NOMEM;
    }
    memcpy(act->line, cmd, clen);
    act->line[clen] = '\0';
    map->n++; /* owned by the map from here, freed with it */
    why = split(act);
    if (why != NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "%s (at most %d arguments, no shell)", why,
                           GF_ACTIONS_ARGV);
    }
    return GF_OK;
}

enum gf_err gf_actions_load(const char *path, struct gf_actions **out, struct gf_diag *diag)
{
    struct gf_actions *map = gf_calloc(1, sizeof(*map));
    enum gf_err err = GF_OK;

    if (map == NULL) {
        return GF_ERR_NOMEM;
    }
    if (path != NULL && path[0] != '\0') {
        err = gf_file_entries(path, "actions_file", "name = /path/to/command args",
                              parse_entry, map, diag);
    }
    if (err != GF_OK) {
        gf_actions_free(map);
        return err;
    }
    *out = map;
    return GF_OK;
}

void gf_actions_free(struct gf_actions *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        gf_free(a->a[i].line);
    }
    gf_free(a);
}

int gf_actions_has(const struct gf_actions *a, const char *name)
{
    return find(a, name) != NULL;
}

/* ---- running ---- */

static const char *outcome_word(enum gf_action_outcome oc)
{
    static const char *const words[] = {"ok", "failed", "timeout", "unknown"};

    return words[oc];
}

enum gf_action_outcome gf_actions_run(const struct gf_actions *a, const char *name,
                                      const char *bundle_dir, long timeout_ms, char *out,
                                      size_t cap)
{
    const struct action *act = find(a, name);
    char var[PATH_MAX + sizeof(ENV_NAME)];
    char *env_add[] = {var, NULL};
    struct gf_proc_result res;
    enum gf_action_outcome oc;

    if (out != NULL && cap > 0) {
        out[0] = '\0';
        if (cap > GF_ACTIONS_OUTPUT + 1) {
            cap = GF_ACTIONS_OUTPUT + 1;
        }
    }
    if (act == NULL) {
        return GF_ACTION_UNKNOWN;
    }
    if (timeout_ms <= 0) {
        return GF_ACTION_TIMEOUT;
    }
    if (snprintf(var, sizeof(var), ENV_NAME "%s", bundle_dir != NULL ? bundle_dir : "") >=
        (int)sizeof(var)) {
        gf_log_error("cannot prepare an action", "action=%s reason=bundle_dir_too_long", name);
        return GF_ACTION_FAILED;
    }
    gf_log_info("running action", "action=%s timeout_ms=%ld", name, timeout_ms);
    if (gf_proc_run(act->argv, env_add, timeout_ms, NULL, out, cap, &res) != GF_OK) {
        gf_log_error("cannot start an action", "action=%s", name);
        return GF_ACTION_FAILED;
    }
    oc = res.timed_out                      ? GF_ACTION_TIMEOUT
         : res.exited && res.exit_code == 0 ? GF_ACTION_OK
                                            : GF_ACTION_FAILED;
    gf_log_info("action finished", "action=%s outcome=%s duration_ms=%ld", name, outcome_word(oc),
                res.duration_ms);
    return oc;
}
