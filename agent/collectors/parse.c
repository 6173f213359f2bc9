/* SPDX-License-Identifier: Apache-2.0
 *
 * parse.c - bounded reads, directory listings and number parsing for the collectors.
 *
 * Everything here is written to be safe on whatever bytes a file holds: reads are capped,
 * numbers are parsed with strto* behind a cursor and must end at a separator, and listings
 * stop at their cap. See parse.h for the contracts.
 */
#include "parse.h"

#include "file.h"
#include "json.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gf_coll_path(char *out, size_t cap, const char *root, const char *rel)
{
    int n = snprintf(out, cap, "%s/%s", root, rel);

    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

enum gf_err gf_coll_read(const char *root, const char *rel, struct gf_buf *b)
{
    char path[GF_COLL_PATH_MAX];
    enum gf_err err;

    gf_buf_init(b, GF_COLL_READ_CAP);
    if (gf_coll_path(path, sizeof(path), root, rel) != 0) {
        return GF_ERR_NOTFOUND;
    }
    err = gf_file_read(path, b);
    if (err == GF_OK || err == GF_ERR_NOMEM) {
        return err;
    }
    return GF_ERR_NOTFOUND;
}

static int is_sep(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n';
}

int gf_coll_read_word(const char *root, const char *rel, char *out, size_t cap)
{
    struct gf_buf b;
    const char *p, *end;
    size_t n;
    int rc = 0;
    enum gf_err err = gf_coll_read(root, rel, &b);

    if (err != GF_OK || b.data == NULL) {
        rc = err == GF_ERR_NOMEM ? -1 : 0;
        goto out;
    }
    p = b.data;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = p;
    while (*end != '\0' && *end != '\n') {
        end++;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        end--;
    }
    n = (size_t)(end - p);
    if (n == 0 || n >= cap) {
        goto out;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    rc = 1;
out:
    gf_buf_free(&b);
    return rc;
}

int gf_coll_read_ll(const char *root, const char *rel, long long *out)
{
    struct gf_buf b;
    const char *cur;
    long long v;
    int rc = 0;
    enum gf_err err = gf_coll_read(root, rel, &b);

    if (err != GF_OK || b.data == NULL) {
        rc = err == GF_ERR_NOMEM ? -1 : 0;
        goto out;
    }
    cur = b.data;
    if (gf_coll_i64(&cur, &v) != 0) {
        goto out;
    }
    gf_coll_skip_blank(&cur);
    if (*cur != '\0' && *cur != '\n') {
        goto out;
    }
    *out = v;
    rc = 1;
out:
    gf_buf_free(&b);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

size_t gf_coll_list_dir(const char *root, const char *rel, char (*names)[GF_COLL_NAME_MAX],
                        size_t max)
{
    char path[GF_COLL_PATH_MAX];
    DIR *d;
    struct dirent *e;
    size_t n = 0;

    if (gf_coll_path(path, sizeof(path), root, rel) != 0 || (d = opendir(path)) == NULL) {
        return 0;
    }
    while (n < max && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len >= GF_COLL_NAME_MAX) {
            continue;
        }
        memcpy(names[n], e->d_name, len + 1);
        n++;
    }
    closedir(d);
    qsort(names, n, GF_COLL_NAME_MAX, cmp_names);
    return n;
}

void gf_coll_skip_blank(const char **cur)
{
    while (**cur == ' ' || **cur == '\t') {
        (*cur)++;
    }
}

void gf_coll_next_line(const char **cur)
{
    const char *nl = strchr(*cur, '\n');

    *cur = nl != NULL ? nl + 1 : *cur + strlen(*cur);
}

int gf_coll_u64(const char **cur, unsigned long long *out)
{
    const char *p = *cur;
    char *end;
    unsigned long long v;

    gf_coll_skip_blank(&p);
    if (!isdigit((unsigned char)*p)) {
        return -1;
    }
    errno = 0;
    v = strtoull(p, &end, 10);
    if (errno != 0 || !is_sep(*end)) {
        return -1;
    }
    *out = v;
    *cur = end;
    return 0;
}

int gf_coll_i64(const char **cur, long long *out)
{
    const char *p = *cur;
    char *end;
    long long v;

    gf_coll_skip_blank(&p);
    if (!isdigit((unsigned char)*p) && !(*p == '-' && isdigit((unsigned char)p[1]))) {
        return -1;
    }
    errno = 0;
    v = strtoll(p, &end, 10);
    if (errno != 0 || !is_sep(*end)) {
        return -1;
    }
    *out = v;
    *cur = end;
    return 0;
}

int gf_coll_double(const char **cur, double *out)
{
    const char *p = *cur, *q;
    char *end;
    double v;

    gf_coll_skip_blank(&p);
    for (q = p; isdigit((unsigned char)*q) || *q == '.'; q++) {
    }
    if (q == p || !is_sep(*q)) {
        return -1; /* digits and one decimal point only: no sign, exponent, inf or nan */
    }
    errno = 0;
    v = strtod(p, &end);
    if (errno != 0 || end != q || !isfinite(v)) {
        return -1;
    }
    *out = v;
    *cur = end;
    return 0;
}

enum gf_err gf_coll_set_new(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL) {
        return GF_ERR_NOMEM;
    }
    return json_object_set_new(obj, key, v) == 0 ? GF_OK : GF_ERR_NOMEM;
}

enum gf_err gf_coll_append_new(json_t *arr, json_t *v)
{
    if (v == NULL) {
        return GF_ERR_NOMEM;
    }
    return json_array_append_new(arr, v) == 0 ? GF_OK : GF_ERR_NOMEM;
}

enum gf_err gf_coll_set_int(json_t *obj, const char *key, long long v)
{
    return gf_coll_set_new(obj, key, json_integer((json_int_t)v));
}

enum gf_err gf_coll_set_real(json_t *obj, const char *key, double v)
{
    return gf_coll_set_new(obj, key, json_real(v));
}

enum gf_err gf_coll_set_bool(json_t *obj, const char *key, int v)
{
    return gf_coll_set_new(obj, key, json_boolean(v));
}

enum gf_err gf_coll_set_str(json_t *obj, const char *key, const char *v)
{
    if (!gf_utf8_valid(v, strlen(v))) {
        return GF_OK; /* not text: skip the value rather than report garbage */
    }
    return gf_coll_set_new(obj, key, json_string(v));
}

double gf_coll_pct(double part, double whole)
{
    return round(part * 10000.0 / whole) / 100.0;
}
