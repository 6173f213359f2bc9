/* SPDX-License-Identifier: Apache-2.0
 *
 * apply_state.c - the two JSON files of the bundle apply engine (docs/internals/
 * agent-bundles.md): installed.json, what is committed, and journal, the apply in progress.
 * Both are compact JSON objects replaced with gf_file_write_atomic (temp file, fsync, rename,
 * fsync of bundles/), so a power cut leaves the old or the new file. Reading is strict: every
 * member present with its type and range, no unknown member, and the version dirs in the
 * form "versions/<one component>", because recovery removes and links what they name. A
 * journal that fails any check is "unreadable" (GF_ERR_PARSE) and recovery trusts
 * installed.json instead.
 */
#define GF_LOG_MODULE "bundle"
#include "apply_int.h"

#include "buf.h"
#include "file.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum gf_err path_of(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= cap ? GF_ERR_INVAL : GF_OK;
}

/* Copy s into dst[cap] (the caller checked the length with gf_json_check). */
static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s != NULL ? s : "");
}

int gf_apply_dir_ok(const char *s)
{
    size_t pre = strlen(GF_APPLY_VERSIONS);
    const char *b = s + pre;

    if (strncmp(s, GF_APPLY_VERSIONS, pre) != 0 || strlen(s) >= GF_APPLY_DIR_MAX) {
        return 0;
    }
    if (*b == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0 || strchr(b, '/') != NULL) {
        return 0;
    }
    for (; *b != '\0'; b++) {
        if ((unsigned char)*b < 0x20 || *b == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int hex64_or_empty(const char *s)
{
    size_t n = strlen(s);

    if (n != 0 && n != 64) {
        return 0;
    }
    return strspn(s, "0123456789abcdef") == n;
}

/* ---- actions, health check, timeout (in both files) ---- */

static json_t *acts_json(const struct gf_apply_acts *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < a->n; i++) {
        if (json_array_append_new(arr, json_string(a->names[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static int acts_read(const json_t *o, struct gf_apply_acts *a)
{
    const json_t *arr = json_object_get(o, "actions");

    if (json_array_size(arr) > GF_MANIFEST_MAX_ACTIONS) {
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s == NULL || s[0] == '\0' || strlen(s) > GF_MANIFEST_ACTION_MAX) {
            return -1;
        }
        copy(a->names[i], sizeof(a->names[i]), s);
    }
    a->n = json_array_size(arr);
    copy(a->health_check, sizeof(a->health_check), gf_json_str(o, "health_check"));
    a->health_timeout_s = (int)gf_json_int(o, "health_timeout_s", 0);
    return 0;
}

/* Parse path into *out (caller json_decref) and check it against fields. */
static enum gf_err load_object(const char *path, const struct gf_json_field *fields, size_t n,
                               json_t **out)
{
    struct gf_buf b;
    json_t *o = NULL;
    enum gf_err err;

    gf_buf_init(&b, GF_APPLY_STATE_MAX);
    err = gf_file_read(path, &b);
    if (err == GF_ERR_TOOBIG) {
        err = GF_ERR_PARSE;
    }
    if (err != GF_OK) {
        goto out;
    }
    if (b.len == 0 || gf_json_parse_object(b.data, b.len, &o, NULL) != GF_OK ||
        gf_json_check(o, fields, n, "", NULL) != GF_OK) {
        err = GF_ERR_PARSE;
        goto out;
    }
    *out = o;
    o = NULL;
out:
    json_decref(o);
    gf_buf_free(&b);
    return err;
}

static enum gf_err save_object(const char *path, json_t *o)
{
    char *text = NULL;
    enum gf_err err = GF_ERR_NOMEM;

    if (o == NULL) {
        return GF_ERR_NOMEM;
    }
    text = json_dumps(o, JSON_COMPACT);
    if (text != NULL) {
        err = gf_file_write_atomic(path, text, strlen(text), 0644);
    }
    free(text); /* jansson's allocator */
    json_decref(o);
    return err;
}

/* ---- installed.json ---- */

static const struct gf_json_field record_fields[] = {
    {"name", GF_JSON_STRING, 1, 0, 0, GF_MANIFEST_NAME_MAX, 0, 0},
    {"version", GF_JSON_INT, 1, 0, 0, 0, 0, LLONG_MAX},
    {"sha256", GF_JSON_STRING, 1, 0, 0, 64, 0, 0},
    {"bundle_id", GF_JSON_STRING, 1, 0, 0, 39, 0, 0},
    {"dir", GF_JSON_STRING, 1, 0, 0, GF_APPLY_DIR_MAX - 1, 0, 0},
    {"failed_sha256", GF_JSON_STRING, 1, 0, 0, 64, 0, 0},
    {"hwm", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
    {"floor_us", GF_JSON_INT, 1, 0, 0, 0, 0, 0},
    {"actions", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
    {"health_check", GF_JSON_STRING, 1, 0, 0, GF_MANIFEST_ACTION_MAX, 0, 0},
    {"health_timeout_s", GF_JSON_INT, 1, 0, 0, 0, 0, GF_MANIFEST_HEALTH_TIMEOUT_MAX},
};

static const struct gf_json_field hwm_fields[] = {
    {"name", GF_JSON_STRING, 1, 0, 1, GF_MANIFEST_NAME_MAX, 0, 0},
    {"version", GF_JSON_INT, 1, 0, 0, 0, 0, LLONG_MAX},
};

static int hwm_read(const json_t *arr, struct gf_installed *in)
{
    const size_t cap = sizeof(in->hwm) / sizeof(in->hwm[0]);

    if (json_array_size(arr) > cap) {
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_object(v) || gf_json_check(v, hwm_fields, 2, "/hwm", NULL) != GF_OK) {
            return -1;
        }
        copy(in->hwm[i].name, sizeof(in->hwm[i].name), gf_json_str(v, "name"));
        in->hwm[i].version = (uint64_t)gf_json_int(v, "version", 0);
    }
    in->nhwm = json_array_size(arr);
    return 0;
}

enum gf_err gf_apply_record_load(const char *bundles_dir, struct gf_apply_record *out)
{
    char path[PATH_MAX];
    struct gf_apply_record r;
    json_t *o = NULL;
    enum gf_err err;

    memset(&r, 0, sizeof(r));
    if (path_of(path, sizeof(path), bundles_dir, "installed.json") != GF_OK) {
        return GF_ERR_INVAL;
    }
    err = load_object(path, record_fields, sizeof(record_fields) / sizeof(record_fields[0]), &o);
    if (err == GF_ERR_NOTFOUND) {
        *out = r;
        return GF_OK;
    }
    if (err != GF_OK) {
        return err;
    }
    copy(r.in.name, sizeof(r.in.name), gf_json_str(o, "name"));
    r.in.version = (uint64_t)gf_json_int(o, "version", 0);
    copy(r.in.sha256, sizeof(r.in.sha256), gf_json_str(o, "sha256"));
    copy(r.in.bundle_id, sizeof(r.in.bundle_id), gf_json_str(o, "bundle_id"));
    copy(r.in.dir, sizeof(r.in.dir), gf_json_str(o, "dir"));
    copy(r.in.failed_sha256, sizeof(r.in.failed_sha256), gf_json_str(o, "failed_sha256"));
    r.in.floor_us = (int64_t)gf_json_int(o, "floor_us", 0);
    if (hwm_read(json_object_get(o, "hwm"), &r.in) != 0 || acts_read(o, &r.acts) != 0 ||
        (r.in.dir[0] != '\0' && !gf_apply_dir_ok(r.in.dir)) || !hex64_or_empty(r.in.sha256) ||
        !hex64_or_empty(r.in.failed_sha256)) {
        err = GF_ERR_PARSE;
    } else {
        *out = r;
    }
    json_decref(o);
    return err;
}

enum gf_err gf_apply_record_save(const char *bundles_dir, const struct gf_apply_record *r)
{
    char path[PATH_MAX];
    json_t *hwm = json_array();
    json_t *o;

    for (size_t i = 0; hwm != NULL && i < r->in.nhwm; i++) {
        json_t *e = json_pack("{s:s, s:I}", "name", r->in.hwm[i].name, "version",
                              (json_int_t)r->in.hwm[i].version);
        if (json_array_append_new(hwm, e) != 0) {
            json_decref(hwm);
            hwm = NULL;
        }
    }
    o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o*, s:I, s:o*, s:s, s:i}", "name", r->in.name,
                  "version", (json_int_t)r->in.version, "sha256", r->in.sha256, "bundle_id",
                  r->in.bundle_id, "dir", r->in.dir, "failed_sha256", r->in.failed_sha256, "hwm",
                  hwm, "floor_us", (json_int_t)r->in.floor_us, "actions", acts_json(&r->acts),
                  "health_check", r->acts.health_check, "health_timeout_s",
                  r->acts.health_timeout_s);
    if (o != NULL && (json_object_get(o, "hwm") == NULL || json_object_get(o, "actions") == NULL)) {
        json_decref(o);
        o = NULL;
    }
    if (path_of(path, sizeof(path), bundles_dir, "installed.json") != GF_OK) {
        json_decref(o);
        return GF_ERR_INVAL;
    }
    return save_object(path, o);
}

enum gf_err gf_installed_load(const char *bundles_dir, struct gf_installed *out)
{
    struct gf_apply_record r;
    enum gf_err err = gf_apply_record_load(bundles_dir, &r);

    if (err == GF_OK) {
        *out = r.in;
    }
    return err == GF_ERR_INVAL ? GF_ERR_IO : err;
}

uint64_t gf_installed_hwm(const struct gf_installed *in, const char *name)
{
    for (size_t i = 0; i < in->nhwm; i++) {
        if (strcmp(in->hwm[i].name, name) == 0) {
            return in->hwm[i].version;
        }
    }
    return 0;
}

void gf_apply_record_commit(struct gf_apply_record *r, const struct gf_apply_journal *j)
{
    struct gf_installed *in = &r->in;
    const size_t cap = sizeof(in->hwm) / sizeof(in->hwm[0]);
    size_t i;

    copy(in->name, sizeof(in->name), j->name);
    in->version = j->version;
    copy(in->sha256, sizeof(in->sha256), j->sha256);
    copy(in->bundle_id, sizeof(in->bundle_id), j->bundle_id);
    copy(in->dir, sizeof(in->dir), j->dir);
    if (j->created_us > in->floor_us) {
        in->floor_us = j->created_us;
    }
    for (i = 0; i < in->nhwm && strcmp(in->hwm[i].name, j->name) != 0; i++) {
    }
    if (i == in->nhwm) {
        if (in->nhwm == cap) { /* full: forget the oldest entry */
            memmove(&in->hwm[0], &in->hwm[1], (cap - 1) * sizeof(in->hwm[0]));
            in->nhwm--;
        }
        i = in->nhwm++;
        copy(in->hwm[i].name, sizeof(in->hwm[i].name), j->name);
        in->hwm[i].version = 0;
    }
    if (j->version > in->hwm[i].version) {
        in->hwm[i].version = j->version;
    }
    r->acts = j->acts;
}

/* ---- journal ---- */

static const struct gf_json_field journal_fields[] = {
    {"step", GF_JSON_STRING, 1, 0, 1, 15, 0, 0},
    {"name", GF_JSON_STRING, 1, 0, 1, GF_MANIFEST_NAME_MAX, 0, 0},
    {"version", GF_JSON_INT, 1, 0, 0, 0, 1, LLONG_MAX},
    {"sha256", GF_JSON_STRING, 1, 0, 64, 64, 0, 0},
    {"bundle_id", GF_JSON_STRING, 1, 0, 0, 39, 0, 0},
    {"dir", GF_JSON_STRING, 1, 0, 1, GF_APPLY_DIR_MAX - 1, 0, 0},
    {"prev_dir", GF_JSON_STRING, 1, 0, 0, GF_APPLY_DIR_MAX - 1, 0, 0},
    {"attempts", GF_JSON_INT, 1, 0, 0, 0, 0, 1000},
    {"created_us", GF_JSON_INT, 1, 0, 0, 0, 0, 0},
    {"reason", GF_JSON_STRING, 1, 0, 0, GF_APPLY_REASON_MAX - 1, 0, 0},
    {"actions", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
    {"health_check", GF_JSON_STRING, 1, 0, 0, GF_MANIFEST_ACTION_MAX, 0, 0},
    {"health_timeout_s", GF_JSON_INT, 1, 0, 0, 0, 1, GF_MANIFEST_HEALTH_TIMEOUT_MAX},
};

static int step_ok(const char *s)
{
    static const char *const steps[] = {"staged", "switching", "actions", "health", "rolling_back"};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (strcmp(s, steps[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

enum gf_err gf_apply_journal_load(const char *bundles_dir, struct gf_apply_journal *out)
{
    char path[PATH_MAX];
    struct gf_apply_journal j;
    json_t *o = NULL;
    enum gf_err err;

    memset(&j, 0, sizeof(j));
    if (path_of(path, sizeof(path), bundles_dir, "journal") != GF_OK) {
        return GF_ERR_INVAL;
    }
    err = load_object(path, journal_fields, sizeof(journal_fields) / sizeof(journal_fields[0]), &o);
    if (err != GF_OK) {
        return err;
    }
    copy(j.step, sizeof(j.step), gf_json_str(o, "step"));
    copy(j.name, sizeof(j.name), gf_json_str(o, "name"));
    j.version = (uint64_t)gf_json_int(o, "version", 0);
    copy(j.sha256, sizeof(j.sha256), gf_json_str(o, "sha256"));
    copy(j.bundle_id, sizeof(j.bundle_id), gf_json_str(o, "bundle_id"));
    copy(j.dir, sizeof(j.dir), gf_json_str(o, "dir"));
    copy(j.prev_dir, sizeof(j.prev_dir), gf_json_str(o, "prev_dir"));
    j.attempts = (int)gf_json_int(o, "attempts", 0);
    j.created_us = (int64_t)gf_json_int(o, "created_us", 0);
    copy(j.reason, sizeof(j.reason), gf_json_str(o, "reason"));
    if (acts_read(o, &j.acts) != 0 || !step_ok(j.step) || !gf_apply_dir_ok(j.dir) ||
        (j.prev_dir[0] != '\0' && !gf_apply_dir_ok(j.prev_dir)) || !hex64_or_empty(j.sha256) ||
        strcmp(j.dir, j.prev_dir) == 0) {
        err = GF_ERR_PARSE;
    } else {
        *out = j;
    }
    json_decref(o);
    return err;
}

enum gf_err gf_apply_journal_save(const char *bundles_dir, const struct gf_apply_journal *j)
{
    char path[PATH_MAX];
    json_t *o;

    o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:o*, s:s, s:i}", "step",
                  j->step, "name", j->name, "version", (json_int_t)j->version, "sha256", j->sha256,
                  "bundle_id", j->bundle_id, "dir", j->dir, "prev_dir", j->prev_dir, "attempts",
                  j->attempts, "created_us", (json_int_t)j->created_us, "reason", j->reason,
                  "actions", acts_json(&j->acts), "health_check", j->acts.health_check,
                  "health_timeout_s", j->acts.health_timeout_s);
    if (o != NULL && json_object_get(o, "actions") == NULL) {
        json_decref(o);
        o = NULL;
    }
    if (path_of(path, sizeof(path), bundles_dir, "journal") != GF_OK) {
        json_decref(o);
        return GF_ERR_INVAL;
    }
    return save_object(path, o);
}

enum gf_err gf_apply_journal_remove(int bfd)
{
    if (unlinkat(bfd, "journal", 0) != 0 && errno != ENOENT) {
        gf_log_error("cannot remove the apply journal", "errno=%d", errno);
        return GF_ERR_IO;
    }
    return fsync(bfd) == 0 ? GF_OK : GF_ERR_IO;
}
