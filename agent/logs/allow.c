/* SPDX-License-Identifier: Apache-2.0
 *
 * allow.c - which log files and journal units a log stream may read (logs_int.h).
 *
 * The station's own settings decide, never the request: log_files is a comma-separated list
 * of absolute paths or fnmatch(3) patterns matched with FNM_PATHNAME (so "*" stays inside one
 * directory), log_units a comma-separated list of unit names. A requested path must be
 * absolute, have no ".." component, match the list as given, resolve with realpath(3) to a
 * path that matches the list too (a symlink inside the allowed set pointing out of it is
 * refused), and be a regular file (not a directory, device or FIFO). The file is opened here
 * from the canonical path with O_NOFOLLOW and checked with fstat on the descriptor, so what
 * is read is what was checked. The follower calls this again for the new file after a
 * rotation. A unit must match [A-Za-z0-9@._:-]{1,128}, not start with '-', and be listed.
 */
#include "logs_int.h"

#include "alloc.h"
#include "ids.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX 256 /* entries in one list */

struct list {
    char *copy; /* owned: the setting, commas replaced by NULs */
    const char *item[LIST_MAX];
    size_t n;
};

struct gf_logs_allow {
    struct list files;
    struct list units;
};

static int dotdot(const char *p)
{
    while (*p != '\0') {
        const char *e;
        size_t n;
        while (*p == '/') {
            p++;
        }
        e = strchr(p, '/');
        n = e != NULL ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            return 1;
        }
        p += n;
    }
    return 0;
}

static int file_ok(const char *f)
{
    return f[0] == '/' && strlen(f) < PATH_MAX && !dotdot(f);
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Split s on commas into l (blanks around entries trimmed, empty entries skipped), each entry
 * checked by ok. */
static enum gf_err split(const char *s, struct list *l, int (*ok)(const char *), const char *key,
                         const char *rule, struct gf_diag *diag)
{
    char *p;

    if (s == NULL) {
        return GF_OK;
    }
    l->copy = gf_strdup(s);
    if (l->copy == NULL) {
        return GF_ERR_NOMEM;
    }
    p = l->copy;
    while (*p != '\0') {
        char *e = strchr(p, ',');
        char *end = e != NULL ? e : p + strlen(p);
        char *next = e != NULL ? e + 1 : end;
        while (p < end && blank(*p)) {
            p++;
        }
        while (end > p && blank(end[-1])) {
            end--;
        }
        *end = '\0';
        if (*p != '\0') {
            if (!ok(p)) {
                return gf_diag_set(diag, GF_ERR_CONFIG, key, "%s: \"%.100s\": %s", key, p, rule);
            }
            if (l->n == LIST_MAX) {
                return gf_diag_set(diag, GF_ERR_CONFIG, key, "%s: more than %d entries", key,
                                   LIST_MAX);
            }
            l->item[l->n++] = p;
        }
        p = next;
    }
    return GF_OK;
}

enum gf_err gf_logs_allow_new(const char *files, const char *units, struct gf_logs_allow **out,
                              struct gf_diag *diag)
{
    struct gf_logs_allow *a = gf_calloc(1, sizeof(*a));
    enum gf_err err;

    if (a == NULL) {
        return GF_ERR_NOMEM;
    }
    err = split(files, &a->files, file_ok, "log_files",
                "expected an absolute path or pattern without \"..\"", diag);
    if (err == GF_OK) {
        err = split(units, &a->units, gf_unit_name_ok, "log_units",
                    "expected a unit name ([A-Za-z0-9@._:-], at most 128, no leading -)", diag);
    }
    if (err != GF_OK) {
        gf_logs_allow_free(a);
        return err;
    }
    *out = a;
    return GF_OK;
}

void gf_logs_allow_free(struct gf_logs_allow *a)
{
    if (a == NULL) {
        return;
    }
    gf_free(a->files.copy);
    gf_free(a->units.copy);
    gf_free(a);
}

static int match_file(const struct gf_logs_allow *a, const char *path)
{
    for (size_t i = 0; i < a->files.n; i++) {
        if (fnmatch(a->files.item[i], path, FNM_PATHNAME) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Resolve path into canon (PATH_MAX bytes). */
static enum gf_err resolve(const char *path, char *canon, struct gf_diag *diag)
{
    if (realpath(path, canon) != NULL) {
        return GF_OK;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        return gf_diag_set(diag, GF_ERR_NOTFOUND, "/path", "%.200s does not exist", path);
    }
    return gf_diag_set(diag, GF_ERR_IO, "/path", "cannot resolve %.200s: %s", path,
                       strerror(errno));
}

enum gf_err gf_logs_allow_open(const struct gf_logs_allow *a, const char *path, char *canon,
                               size_t cap, int *fd, struct gf_diag *diag)
{
    char real[PATH_MAX];
    struct stat st;
    enum gf_err err;
    int f = -1;

    if (path == NULL || path[0] != '/' || strnlen(path, PATH_MAX) >= PATH_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/path",
                           "path must be absolute (and shorter "
                           "than PATH_MAX)");
    }
    if (dotdot(path)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/path", "path must not contain \"..\"");
    }
    if (!match_file(a, path)) {
        return gf_diag_set(diag, GF_ERR_PERM, "/path", "%.200s is not in log_files", path);
    }
    err = resolve(path, real, diag);
    if (err != GF_OK) {
        return err;
    }
    if (!match_file(a, real)) {
        return gf_diag_set(diag, GF_ERR_PERM, "/path",
                           "%.200s resolves to %.200s, which is not in log_files", path, real);
    }
    if (strlen(real) >= cap) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/path", "canonical path too long");
    }
    f = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        return gf_diag_set(diag, errno == ENOENT ? GF_ERR_NOTFOUND : GF_ERR_IO, "/path",
                           "cannot open %.200s: %s", real, strerror(errno));
    }
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return gf_diag_set(diag, GF_ERR_INVAL, "/path", "%.200s is not a regular file", real);
    }
    memcpy(canon, real, strlen(real) + 1);
    *fd = f;
    return GF_OK;
}

enum gf_err gf_logs_allow_unit(const struct gf_logs_allow *a, const char *unit,
                               struct gf_diag *diag)
{
    if (!gf_unit_name_ok(unit)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/unit",
                           "unit must be 1-128 characters of A-Z a-z 0-9 @ . _ : - "
                           "(no leading -)");
    }
    for (size_t i = 0; i < a->units.n; i++) {
        if (strcmp(a->units.item[i], unit) == 0) {
            return GF_OK;
        }
    }
    return gf_diag_set(diag, GF_ERR_PERM, "/unit", "%.128s is not in log_units", unit);
}
