/* SPDX-License-Identifier: Apache-2.0
 *
 * allow.c - the command allowlist file (cmd.h): `name = /abs/command args` lines parsed into
 * argv templates, and argv built from a request's args. The command line is split on blanks
 * (no shell, no quoting, no expansion); a token that starts with '{' is a parameter
 * `{param:REGEX}`, replaced by exactly one argv element, the caller's string args.param,
 * which must match the whole POSIX extended regex (compiled once as ^(REGEX)$ with
 * REG_EXTENDED | REG_NOSUB). Other tokens are literal. Entries are allocated one by one (a
 * compiled regex is large); the list is read-only after loading, so building argv from
 * several threads at once is safe (regexec on a shared regex_t is).
 */
#include "cmd_int.h"

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "gf_limits.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

struct token {
    char *lit;                        /* literal (into entry->line), NULL for a parameter */
    char param[GF_CMD_PARAM_MAX + 1]; /* parameter name */
    const char *src;                  /* parameter regex as written (into entry->line) */
    regex_t re;
};

struct entry {
    char name[GF_CMD_NAME_MAX + 1];
    char *line; /* owned: the command, blanks and token ends replaced by NULs */
    size_t ntok, nre;
    struct token tok[GF_CMD_ARGV_MAX];
};

struct gf_cmd_allow {
    size_t n;
    struct entry *e[GF_CMD_ALLOW_MAX];
};

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

static void entry_free(struct entry *e)
{
    if (e == NULL) {
        return;
    }
    for (size_t i = 0; i < e->ntok; i++) {
        if (e->tok[i].lit == NULL && e->tok[i].src != NULL) {
            regfree(&e->tok[i].re);
        }
    }
    gf_free(e->line);
    gf_free(e);
}

static const struct entry *find(const struct gf_cmd_allow *a, const char *name)
{
    for (size_t i = 0; a != NULL && i < a->n; i++) {
        if (strcmp(a->e[i]->name, name) == 0) {
            return a->e[i];
        }
    }
    return NULL;
}

static int param_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > GF_CMD_PARAM_MAX || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

/* tok->lit is "{name:regex}": compile it. Writes why (cap) and returns -1 when bad. */
static int compile_param(struct entry *e, struct token *t, char *why, size_t cap)
{
    char *s = t->lit, *colon = strchr(s, ':');
    size_t len = strlen(s);
    char pattern[GF_LIMIT_CONFIG_LINE + 8];
    int rc;

    if (len < 4 || s[len - 1] != '}' || colon == NULL) {
        snprintf(why, cap, "a parameter is {name:REGEX} without blanks, got %.60s", s);
        return -1;
    }
    if (!param_name_ok(s + 1, (size_t)(colon - s - 1))) {
        snprintf(why, cap, "bad parameter name in %.60s (1-%d characters of a-z 0-9 _)", s,
                 GF_CMD_PARAM_MAX);
        return -1;
    }
    memcpy(t->param, s + 1, (size_t)(colon - s - 1));
    t->param[colon - s - 1] = '\0';
    for (size_t i = 0; i < e->ntok; i++) {
        if (e->tok[i].lit == NULL && strcmp(e->tok[i].param, t->param) == 0) {
            snprintf(why, cap, "parameter %s declared twice", t->param);
            return -1;
        }
    }
    s[len - 1] = '\0';
    if (colon[1] == '\0') {
        snprintf(why, cap, "empty regex for parameter %s", t->param);
        return -1;
    }
    snprintf(pattern, sizeof(pattern), "^(%s)$", colon + 1);
    rc = regcomp(&t->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &t->re, msg, sizeof(msg));
        snprintf(why, cap, "bad regex for parameter %s: %s", t->param, msg);
        return -1;
    }
    t->src = colon + 1;
    t->lit = NULL;
    return 0;
}

/* Split e->line on blanks into tokens, compiling parameters. why: the error sentence. */
static int split(struct entry *e, char *why, size_t cap)
{
    char *p = e->line;

    while (*p != '\0') {
        while (blank(*p)) {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        if (e->ntok == GF_CMD_ARGV_MAX) {
            snprintf(why, cap, "more than %d argv elements", GF_CMD_ARGV_MAX);
            return -1;
        }
        struct token *t = &e->tok[e->ntok];
        t->lit = p;
        t->src = NULL;
        while (*p != '\0' && !blank(*p)) {
            p++;
        }
        if (*p != '\0') {
            *p++ = '\0';
        }
        if (t->lit[0] == '{') {
            if (e->ntok == 0) {
                snprintf(why, cap, "the command must start with an absolute path");
                return -1;
            }
            if (compile_param(e, t, why, cap) != 0) {
                return -1;
            }
        }
        e->ntok++;
    }
    if (e->ntok == 0) {
        snprintf(why, cap, "empty command");
        return -1;
    }
    if (e->tok[0].lit[0] != '/') {
        snprintf(why, cap, "the command must start with an absolute path (no shell)");
        return -1;
    }
    return 0;
}

/* One entry: name = command. where is "file:line". */
static enum gf_err parse_entry(void *ud, const char *s, size_t nlen, const char *cmd,
                               size_t clen, const char *where, struct gf_diag *diag)
{
    struct gf_cmd_allow *a = ud;
    struct entry *e;
    char why[200];

    if (!gf_cmd_name_ok(s, nlen)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where,
                           "bad command name (1-%d characters of a-z 0-9 . _ : -)",
                           GF_CMD_NAME_MAX);
    }
    if (a->n == GF_CMD_ALLOW_MAX) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "more than %d commands", GF_CMD_ALLOW_MAX);
    }
    e = gf_calloc(1, sizeof(*e));
    if (e == NULL || (e->line = gf_malloc(clen + 1)) == NULL) {
        gf_free(e);
        return GF_ERR_NOMEM;
    }
    memcpy(e->name, s, nlen);
    memcpy(e->line, cmd, clen);
    e->line[clen] = '\0';
    a->e[a->n++] = e; /* owned by the list from here */
    if (gf_cmd_is_builtin(e->name)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "%s is a built-in command", e->name);
    }
    if (find(a, e->name) != e) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "command %s defined twice", e->name);
    }
    if (split(e, why, sizeof(why)) != 0) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "%s", why);
    }
    return GF_OK;
}

enum gf_err gf_cmd_allow_load(const char *path, struct gf_cmd_allow **out, struct gf_diag *diag)
{
    struct gf_cmd_allow *a = gf_calloc(1, sizeof(*a));
    enum gf_err err = GF_OK;

    if (a == NULL) {
        return GF_ERR_NOMEM;
    }
    if (path != NULL && path[0] != '\0') {
        err = gf_file_entries(path, "commands_file", "name = /path/to/command args",
                              parse_entry, a, diag);
    }
    if (err != GF_OK) {
        gf_cmd_allow_free(a);
        return err;
    }
    *out = a;
    return GF_OK;
}

void gf_cmd_allow_free(struct gf_cmd_allow *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        entry_free(a->e[i]);
    }
    gf_free(a);
}

int gf_cmd_allow_has(const struct gf_cmd_allow *a, const char *name)
{
    return find(a, name) != NULL;
}

/* ---- argv from args ---- */

static const struct token *param_of(const struct entry *e, const char *key)
{
    for (size_t i = 0; i < e->ntok; i++) {
        if (e->tok[i].lit == NULL && strcmp(e->tok[i].param, key) == 0) {
            return &e->tok[i];
        }
    }
    return NULL;
}

/* The value of parameter t in args, checked. */
static enum gf_err arg_value(const struct token *t, const json_t *args, const char **out,
                             struct gf_diag *diag)
{
    const json_t *v = args != NULL ? json_object_get(args, t->param) : NULL;
    char where[64];
    const char *s;
    size_t n;

    snprintf(where, sizeof(where), "/args/%s", t->param);
    if (v == NULL) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "missing argument %s", t->param);
    }
    if (!json_is_string(v)) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "argument %s must be a string", t->param);
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (n > GF_CMD_ARG_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "argument %s is longer than %d bytes",
                           t->param, GF_CMD_ARG_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return gf_diag_set(diag, GF_ERR_INVAL, where,
                               "argument %s contains a control character", t->param);
        }
    }
    if (regexec(&t->re, s, 0, NULL, 0) != 0) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "argument %s does not match %.100s", t->param,
                           t->src);
    }
    *out = s;
    return GF_OK;
}

enum gf_err gf_cmd_allow_argv(const struct gf_cmd_allow *a, const char *name, const json_t *args,
                              char ***argv, struct gf_diag *diag)
{
    const struct entry *e = find(a, name);
    const char *val[GF_CMD_ARGV_MAX];
    size_t total = 0;
    const char *key;
    const json_t *v;
    char **vec;
    char *p;

    if (e == NULL) {
        return gf_diag_set(diag, GF_ERR_NOTFOUND, "/name", "unknown command %s", name);
    }
    if (args != NULL && !json_is_object(args)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/args", "args must be an object");
    }
    json_object_foreach((json_t *)args, key, v) {
        if (param_of(e, key) == NULL) {
            return gf_diag_set(diag, GF_ERR_INVAL, "/args", "undeclared argument %.64s for %s", key,
                               name);
        }
    }
    for (size_t i = 0; i < e->ntok; i++) {
        if (e->tok[i].lit != NULL) {
            val[i] = e->tok[i].lit;
        } else {
            enum gf_err err = arg_value(&e->tok[i], args, &val[i], diag);
            if (err != GF_OK) {
                return err;
            }
        }
        total += strlen(val[i]) + 1;
    }
    vec = gf_malloc((e->ntok + 1) * sizeof(char *) + total);
    if (vec == NULL) {
        return GF_ERR_NOMEM;
    }
    p = (char *)(vec + e->ntok + 1);
    for (size_t i = 0; i < e->ntok; i++) {
        size_t n = strlen(val[i]) + 1;
        memcpy(p, val[i], n);
        vec[i] = p;
        p += n;
    }
    vec[e->ntok] = NULL;
    *argv = vec;
    return GF_OK;
}
