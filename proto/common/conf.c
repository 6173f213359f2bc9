/* SPDX-License-Identifier: Apache-2.0
 *
 * conf.c - table-driven configuration loader: file, environment and argv overrides,
 * value parsing with units and bounds, printing. See conf.h.
 */
#include "conf.h"

#include "alloc.h"
#include "gf_limits.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const struct gf_conf_key *find_key(const struct gf_conf_table *t, const char *name,
                                          size_t len)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        if (strlen(t->keys[i].name) == len && strncmp(t->keys[i].name, name, len) == 0) {
            return &t->keys[i];
        }
    }
    return NULL;
}

static int parse_long(const char *s, long *out)
{
    char *end = NULL;
    long v;

    if (*s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s) {
        return -1;
    }
    *out = v;
    return (int)(end - s);
}

static int parse_scaled(const char *s, enum gf_conf_type type, long *out)
{
    long v;
    long mul = 1;
    int n = parse_long(s, &v);

    if (n < 0) {
        return -1;
    }
    const char *u = s + n;
    if (type == GF_CONF_DURATION) {
        if (strcmp(u, "") == 0 || strcmp(u, "s") == 0) {
            mul = 1;
        } else if (strcmp(u, "m") == 0) {
            mul = 60;
        } else if (strcmp(u, "h") == 0) {
            mul = 3600;
        } else if (strcmp(u, "d") == 0) {
            mul = 86400;
        } else {
            return -1;
        }
    } else if (type == GF_CONF_SIZE) {
        if (strcmp(u, "") == 0) {
            mul = 1;
        } else if (strcmp(u, "k") == 0 || strcmp(u, "K") == 0) {
            mul = 1024;
        } else if (strcmp(u, "m") == 0 || strcmp(u, "M") == 0) {
            mul = 1024L * 1024;
        } else if (strcmp(u, "g") == 0 || strcmp(u, "G") == 0) {
            mul = 1024L * 1024 * 1024;
        } else {
            return -1;
        }
    } else if (*u != '\0') {
        return -1;
    }
    if (v > LONG_MAX / mul || v < LONG_MIN / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

enum gf_err gf_conf_split_hostport(const char *s, char *host, size_t hostcap, int *port)
{
    const char *colon;
    const char *hs = s;
    size_t hl;
    long p = 0;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            return GF_ERR_INVAL;
        }
        hs = s + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            return GF_ERR_INVAL;
        }
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostcap || parse_long(colon + 1, &p) != (int)strlen(colon + 1) ||
        p < 0 || p > 65535) {
        return GF_ERR_INVAL;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = (int)p;
    return GF_OK;
}

static enum gf_err set_key(const struct gf_conf_key *k, void *settings, const char *value,
                           struct gf_diag *diag)
{
    char *field = (char *)settings + k->offset;
    long v;

    switch (k->type) {
    case GF_CONF_INT:
    case GF_CONF_DURATION:
    case GF_CONF_SIZE:
        if (parse_scaled(value, k->type, &v) != 0) {
            return gf_diag_set(diag, GF_ERR_CONFIG, k->name, "%s: not a valid %s: \"%.60s\"",
                               k->name,
                               k->type == GF_CONF_INT        ? "integer"
                               : k->type == GF_CONF_DURATION ? "duration (30s, 5m, 2h, 1d)"
                                                             : "size (512, 64k, 8m, 1g)",
                               value);
        }
        if (v < k->min || v > k->max) {
            return gf_diag_set(diag, GF_ERR_CONFIG, k->name, "%s: %ld is out of range [%ld, %ld]",
                               k->name, v, k->min, k->max);
        }
        memcpy(field, &v, sizeof(v));
        return GF_OK;
    case GF_CONF_BOOL: {
        int b;
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on") ||
            !strcmp(value, "1")) {
            b = 1;
        } else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off") ||
                   !strcmp(value, "0")) {
            b = 0;
        } else {
            return gf_diag_set(diag, GF_ERR_CONFIG, k->name,
                               "%s: expected true or false, got \"%.60s\"", k->name, value);
        }
        memcpy(field, &b, sizeof(b));
        return GF_OK;
    }
    case GF_CONF_HOSTPORT: {
        char host[256];
        int port;
        if (gf_conf_split_hostport(value, host, sizeof(host), &port) != GF_OK) {
            return gf_diag_set(diag, GF_ERR_CONFIG, k->name,
                               "%s: expected host:port (port 0-65535), got \"%.60s\"", k->name,
                               value);
        }
        break;
    }
    case GF_CONF_LEVEL: {
        enum gf_log_level lv;
        if (gf_log_parse_level(value, &lv) != 0) {
            return gf_diag_set(diag, GF_ERR_CONFIG, k->name,
                               "%s: expected debug, info, warn or error, got \"%.60s\"", k->name,
                               value);
        }
        break;
    }
    case GF_CONF_STR:
        break;
    }
    /* string-valued types */
    char *old;
    char *copy = NULL;
    memcpy(&old, field, sizeof(old));
    if (*value != '\0') {
        copy = gf_strdup(value);
        if (copy == NULL) {
            return GF_ERR_NOMEM;
        }
    }
    gf_free(old);
    memcpy(field, &copy, sizeof(copy));
    return GF_OK;
}

enum gf_err gf_conf_set(const struct gf_conf_table *t, void *settings, const char *key,
                        const char *value, struct gf_diag *diag)
{
    const struct gf_conf_key *k = find_key(t, key, strlen(key));

    if (k == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, key, "unknown configuration key \"%.80s\"", key);
    }
    return set_key(k, settings, value, diag);
}

enum gf_err gf_conf_defaults(const struct gf_conf_table *t, void *settings,
                             struct gf_diag *diag)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        if (t->keys[i].def != NULL) {
            enum gf_err err = set_key(&t->keys[i], settings, t->keys[i].def, diag);
            if (err != GF_OK) {
                return err;
            }
        }
    }
    return GF_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

static enum gf_err load_line(const struct gf_conf_table *t, void *settings, char *line,
                             const char *path, int lineno, struct gf_diag *diag)
{
    char *s = trim(line);
    char *eq;
    enum gf_err err;

    if (*s == '\0' || *s == '#') {
        return GF_OK;
    }
    eq = strchr(s, '=');
    if (eq == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "", "%s:%d: expected key = value", path, lineno);
    }
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    size_t vl = strlen(value);
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
        value[vl - 1] = '\0';
        value++;
    }
    err = gf_conf_set(t, settings, key, value, diag);
    if (err != GF_OK && diag != NULL) {
        char msg[sizeof(diag->msg)];
        memcpy(msg, diag->msg, sizeof(msg));
        int n = snprintf(diag->msg, sizeof(diag->msg), "%.120s:%d: ", path, lineno);
        if (n > 0 && (size_t)n < sizeof(diag->msg)) {
            size_t room = sizeof(diag->msg) - (size_t)n - 1;
            size_t ml = strnlen(msg, room);
            memcpy(diag->msg + n, msg, ml);
            diag->msg[(size_t)n + ml] = '\0';
        }
    }
    return err;
}

enum gf_err gf_conf_load_file(const struct gf_conf_table *t, void *settings, const char *path,
                              struct gf_diag *diag)
{
    char line[GF_LIMIT_CONFIG_LINE];
    FILE *f = fopen(path, "r");
    int lineno = 0;
    enum gf_err err = GF_OK;

    if (f == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "config", "cannot open config file %s: %s",
                           path, strerror(errno));
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            err = gf_diag_set(diag, GF_ERR_CONFIG, "", "%s:%d: line too long", path, lineno);
            goto out;
        }
        err = load_line(t, settings, line, path, lineno, diag);
        if (err != GF_OK) {
            goto out;
        }
    }
out:
    fclose(f);
    return err;
}

enum gf_err gf_conf_load_env(const struct gf_conf_table *t, void *settings,
                             struct gf_diag *diag)
{
    size_t plen = strlen(t->env_prefix);

    for (char **e = environ; *e != NULL; e++) {
        char key[128];
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, t->env_prefix, plen) != 0 || eq == NULL) {
            continue;
        }
        size_t kl = (size_t)(eq - *e) - plen;
        if (kl == 0 || kl >= sizeof(key)) {
            continue;
        }
        for (size_t i = 0; i < kl; i++) {
            key[i] = (char)tolower((unsigned char)(*e)[plen + i]);
        }
        key[kl] = '\0';
        /* The agent's prefix extends the server's: GATEFLEET_AGENT_X is not a server key. */
        if (strcmp(t->env_prefix, "GATEFLEET_") == 0 && strncmp(key, "agent_", 6) == 0) {
            continue;
        }
        if (find_key(t, key, kl) == NULL) {
            return gf_diag_set(diag, GF_ERR_CONFIG, key,
                               "environment variable %.*s names no configuration key",
                               (int)(eq - *e), *e);
        }
        enum gf_err err = gf_conf_set(t, settings, key, eq + 1, diag);
        if (err != GF_OK) {
            return err;
        }
    }
    return GF_OK;
}

/* Returns 1 and fills name/value for "--key value" or "--key=value"; 0 if argv[*i] is not an
 * option. */
static int next_option(int argc, char **argv, int *i, char *name, size_t cap,
                       const char **value, struct gf_diag *diag, enum gf_err *err)
{
    const char *a = argv[*i];
    const char *eq;

    *err = GF_OK;
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
        return 0;
    }
    a += 2;
    eq = strchr(a, '=');
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    if (nl >= cap) {
        *err = gf_diag_set(diag, GF_ERR_CONFIG, "", "option too long");
        return 1;
    }
    memcpy(name, a, nl);
    name[nl] = '\0';
    for (size_t k = 0; k < nl; k++) {
        if (name[k] == '-') {
            name[k] = '_';
        }
    }
    if (strcmp(name, "print_config") == 0) {
        *value = NULL;
        (*i)++;
        return 1;
    }
    if (eq != NULL) {
        *value = eq + 1;
        (*i)++;
    } else if (*i + 1 < argc) {
        *value = argv[*i + 1];
        *i += 2;
    } else {
        *err = gf_diag_set(diag, GF_ERR_CONFIG, name, "option --%s needs a value", name);
    }
    return 1;
}

enum gf_err gf_conf_load_args(const struct gf_conf_table *t, void *settings, int argc,
                              char **argv, int *argi, int *print, struct gf_diag *diag)
{
    int i = *argi;
    enum gf_err err = GF_OK;

    while (i < argc) {
        char name[128];
        const char *value = NULL;
        if (!next_option(argc, argv, &i, name, sizeof(name), &value, diag, &err)) {
            break;
        }
        if (err != GF_OK) {
            return err;
        }
        if (strcmp(name, "print_config") == 0) {
            if (print != NULL) {
                *print = 1;
            }
        } else if (strcmp(name, "config") == 0) {
            /* files were loaded first by gf_conf_load(); skip */
        } else {
            err = gf_conf_set(t, settings, name, value, diag);
            if (err != GF_OK) {
                if (err == GF_ERR_CONFIG && diag != NULL && strncmp(diag->msg, "unknown", 7) == 0) {
                    gf_diag_set(diag, GF_ERR_CONFIG, name, "unknown option --%s", name);
                }
                return err;
            }
        }
    }
    *argi = i;
    return GF_OK;
}

enum gf_err gf_conf_load(const struct gf_conf_table *t, void *settings, int argc, char **argv,
                         int *argi, int *print, struct gf_diag *diag)
{
    enum gf_err err = gf_conf_defaults(t, settings, diag);

    /* Pass 1: --config files, in order, before the environment and other options. */
    for (int i = *argi; err == GF_OK && i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            err = gf_conf_load_file(t, settings, argv[i + 1], diag);
            i++;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            err = gf_conf_load_file(t, settings, argv[i] + 9, diag);
        }
    }
    if (err == GF_OK) {
        err = gf_conf_load_env(t, settings, diag);
    }
    if (err == GF_OK) {
        err = gf_conf_load_args(t, settings, argc, argv, argi, print, diag);
    }
    return err;
}

static int is_secret(const char *name)
{
    return strstr(name, "password") != NULL || strstr(name, "secret") != NULL;
}

static void value_text(const struct gf_conf_key *k, const void *settings, char *out, size_t cap)
{
    const char *field = (const char *)settings + k->offset;

    if (k->type == GF_CONF_INT || k->type == GF_CONF_DURATION || k->type == GF_CONF_SIZE) {
        long v;
        memcpy(&v, field, sizeof(v));
        snprintf(out, cap, "%ld", v);
    } else if (k->type == GF_CONF_BOOL) {
        int b;
        memcpy(&b, field, sizeof(b));
        snprintf(out, cap, "%s", b ? "true" : "false");
    } else {
        const char *s;
        memcpy(&s, field, sizeof(s));
        snprintf(out, cap, "%s", s ? s : "");
    }
}

void gf_conf_print(const struct gf_conf_table *t, const void *settings, FILE *out)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        char v[1024];
        value_text(&t->keys[i], settings, v, sizeof(v));
        if (is_secret(t->keys[i].name) && v[0] != '\0') {
            snprintf(v, sizeof(v), "********");
        }
        fprintf(out, "# %s\n%s = %s\n", t->keys[i].help, t->keys[i].name, v);
    }
}

void gf_conf_print_markdown(const struct gf_conf_table *t, FILE *out)
{
    static const char *const types[] = {"string", "integer", "boolean", "host:port",
                                        "level",  "duration", "size"};

    fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct gf_conf_key *k = &t->keys[i];
        fprintf(out, "| `%s` | %s | %s%s%s | %s |\n", k->name, types[k->type],
                k->def ? "`" : "", k->def ? k->def : "(unset)", k->def ? "`" : "", k->help);
    }
}

void gf_conf_free(const struct gf_conf_table *t, void *settings)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        enum gf_conf_type ty = t->keys[i].type;
        if (ty == GF_CONF_STR || ty == GF_CONF_HOSTPORT || ty == GF_CONF_LEVEL) {
            char **field = (char **)(void *)((char *)settings + t->keys[i].offset);
            gf_free(*field);
            *field = NULL;
        }
    }
}
