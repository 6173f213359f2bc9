/* SPDX-License-Identifier: Apache-2.0
 *
 * upload.c - bundle upload parsing and checking (see upload.h). The order of checks is the
 * order an operator fixes things in: the body's shape, the metadata, then each file.
 * Files are sorted by path so the manifest does not depend on the order of the parts.
 */
#include "upload.h"

#include "alloc.h"
#include "ids.h"
#include "multipart.h"
#include "render.h"
#include "selector.h"
#include "timefmt.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_HEALTH_TIMEOUT 60

int gf_upload_mode(const char *text)
{
    size_t n = text ? strlen(text) : 0;
    int mode = 0;

    if (n < 3 || n > 4) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '7') {
            return -1;
        }
        mode = mode * 8 + (text[i] - '0');
    }
    return mode > 0777 ? -1 : mode;
}

void gf_upload_free(struct gf_upload *u)
{
    gf_manifest_free(&u->m);
    gf_free(u->files);
    json_decref(u->meta);
    json_decref(u->target);
    memset(u, 0, sizeof(*u));
}

static enum gf_err check_names(const json_t *arr, const char *where,
                               char (*out)[GF_MANIFEST_ACTION_MAX + 1], size_t max, size_t *n,
                               struct gf_diag *diag)
{
    size_t i;
    json_t *v;

    *n = 0;
    if (arr == NULL || json_is_null(arr)) {
        return GF_OK;
    }
    if (json_array_size(arr) > max) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "at most %zu actions", max);
    }
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !gf_manifest_action_ok(json_string_value(v))) {
            return gf_diag_set(diag, GF_ERR_INVAL, where,
                               "%s/%zu must be an action name "
                               "([a-z0-9][a-z0-9._:-]*, at most 63)",
                               where, i);
        }
        snprintf(out[(*n)++], GF_MANIFEST_ACTION_MAX + 1, "%s", json_string_value(v));
    }
    return GF_OK;
}

/* An object whose values are strings (a value-table row). */
static enum gf_err check_row(const json_t *row, const char *where, struct gf_diag *diag)
{
    const char *k;
    json_t *v;

    if (!json_is_object(row)) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "must be an object of strings");
    }
    json_object_foreach((json_t *)row, k, v)
    {
        if (!json_is_string(v) || strlen(k) > GF_RENDER_NAME_MAX || json_string_length(v) > 4096) {
            return gf_diag_set(diag, GF_ERR_INVAL, where,
                               "\"%s\" must be a string of at most "
                               "4096 bytes",
                               k);
        }
    }
    return GF_OK;
}

static enum gf_err check_parameters(const json_t *p, struct gf_diag *diag)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)p, k, v)
    {
        if (strcmp(k, "default") == 0) {
            if (check_row(v, "/parameters/default", diag) != GF_OK) {
                return GF_ERR_INVAL;
            }
        } else if (strcmp(k, "nodes") == 0) {
            const char *node;
            json_t *row;
            if (!json_is_object(v) || json_object_size(v) > 100000) {
                return gf_diag_set(diag, GF_ERR_INVAL, "/parameters/nodes",
                                   "must be an object of node id -> row");
            }
            json_object_foreach(v, node, row)
            {
                if (!gf_uuid_valid(node) || check_row(row, "/parameters/nodes", diag) != GF_OK) {
                    return gf_diag_set(diag, GF_ERR_INVAL, "/parameters/nodes",
                                       "keys must be node ids and values objects of strings");
                }
            }
        } else {
            return gf_diag_set(diag, GF_ERR_INVAL, "/parameters",
                               "unknown member \"%s\" "
                               "(default, nodes)",
                               k);
        }
    }
    return GF_OK;
}

static enum gf_err check_target(struct gf_upload *u, const json_t *t, struct gf_diag *diag)
{
    static const struct gf_json_field fields[] = {
        {"selector", GF_JSON_STRING, 0, 1, 1, 1024, 0, 0},
        {"arch", GF_JSON_ARRAY, 0, 1, 0, 0, 0, 0},
    };
    json_t *sel = NULL, *arch = json_object_get(t, "arch"), *v;
    size_t i;

    if (gf_json_check(t, fields, 2, "/target", diag) != GF_OK) {
        return GF_ERR_INVAL;
    }
    const char *text = gf_json_str(t, "selector");
    if (text != NULL && gf_selector_compile(text, &sel, diag) != GF_OK) {
        snprintf(diag->where, sizeof(diag->where), "/target/selector");
        return GF_ERR_INVAL;
    }
    if (json_array_size(arch) > 8) {
        json_decref(sel);
        return gf_diag_set(diag, GF_ERR_INVAL, "/target/arch", "at most 8 architectures");
    }
    json_array_foreach(arch, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 31) {
            json_decref(sel);
            return gf_diag_set(diag, GF_ERR_INVAL, "/target/arch",
                               "architectures are names like \"x86_64\" or \"aarch64\"");
        }
        snprintf(u->m.target_arch[u->m.narch++], sizeof(u->m.target_arch[0]), "%s",
                 json_string_value(v));
    }
    if (text != NULL) {
        snprintf(u->m.target_selector, sizeof(u->m.target_selector), "%s", text);
    }
    u->target =
        json_pack("{s:s?, s:o?, s:O?}", "selector", text, "selector_json", sel, "arch", arch);
    return u->target ? GF_OK : GF_ERR_NOMEM;
}

static enum gf_err check_meta(struct gf_upload *u, const char *data, size_t len,
                              struct gf_diag *diag)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 1, 0, 1, GF_MANIFEST_NAME_MAX, 0, 0},
        {"description", GF_JSON_STRING, 0, 1, 0, 2000, 0, 0},
        {"expires_at", GF_JSON_STRING, 0, 1, 1, 40, 0, 0},
        {"actions", GF_JSON_ARRAY, 0, 1, 0, 0, 0, 0},
        {"health_check", GF_JSON_STRING, 0, 1, 1, GF_MANIFEST_ACTION_MAX, 0, 0},
        {"health_timeout_s", GF_JSON_INT, 0, 1, 0, 0, 1, GF_MANIFEST_HEALTH_TIMEOUT_MAX},
        {"target", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"signing", GF_JSON_STRING, 0, 1, 1, 16, 0, 0},
        {"files", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"parameters", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
    };
    enum gf_err err;

    if ((err = gf_json_parse_object(data, len, &u->meta, diag)) != GF_OK ||
        (err = gf_json_check(u->meta, fields, sizeof(fields) / sizeof(fields[0]), "", diag)) !=
            GF_OK) {
        return err;
    }
    const char *name = gf_json_str(u->meta, "name"), *hc = gf_json_str(u->meta, "health_check");
    const char *signing = gf_json_str(u->meta, "signing"),
               *exp = gf_json_str(u->meta, "expires_at");
    if (!gf_manifest_name_ok(name)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/name",
                           "a bundle name is [a-z0-9][a-z0-9._-]*, "
                           "at most %u characters",
                           GF_MANIFEST_NAME_MAX);
    }
    snprintf(u->m.name, sizeof(u->m.name), "%s", name);
    if ((err = check_names(json_object_get(u->meta, "actions"), "/actions", u->m.actions,
                           GF_MANIFEST_MAX_ACTIONS, &u->m.nactions, diag)) != GF_OK) {
        return err;
    }
    if (hc != NULL && !gf_manifest_action_ok(hc)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/health_check", "must be an action name");
    }
    snprintf(u->m.health_check, sizeof(u->m.health_check), "%s", hc ? hc : "");
    u->m.health_timeout_s = (int)gf_json_int(u->meta, "health_timeout_s", DEFAULT_HEALTH_TIMEOUT);
    if (signing != NULL && strcmp(signing, "server") != 0 && strcmp(signing, "offline") != 0) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/signing", "must be \"server\" or \"offline\"");
    }
    u->offline = signing != NULL && strcmp(signing, "offline") == 0;
    if (exp != NULL) {
        int64_t now = gf_time_now_us();
        if (gf_time_parse_rfc3339(exp, &u->expires_us) != GF_OK || u->expires_us <= now ||
            u->expires_us > now + 5LL * 366 * 86400 * 1000000) {
            return gf_diag_set(diag, GF_ERR_INVAL, "/expires_at",
                               "must be an RFC 3339 time in "
                               "the future and within five years");
        }
    }
    const json_t *t = json_object_get(u->meta, "target");
    if (t != NULL && !json_is_null(t) && (err = check_target(u, t, diag)) != GF_OK) {
        return err;
    }
    u->parameters = json_object_get(u->meta, "parameters");
    if (u->parameters != NULL && !json_is_null(u->parameters) &&
        (err = check_parameters(u->parameters, diag)) != GF_OK) {
        return err;
    }
    u->description = gf_json_str(u->meta, "description");
    return GF_OK;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct gf_manifest_file *)a)->path,
                  ((const struct gf_manifest_file *)b)->path);
}

/* Apply the per-file options of /files to file i. */
static enum gf_err file_options(struct gf_upload *u, size_t i, struct gf_diag *diag)
{
    static const struct gf_json_field fields[] = {
        {"mode", GF_JSON_STRING, 0, 1, 3, 4, 0, 0},
        {"template", GF_JSON_BOOL, 0, 1, 0, 0, 0, 0},
    };
    const json_t *opts = json_object_get(json_object_get(u->meta, "files"), u->m.files[i].path);

    u->m.files[i].mode = 0644;
    if (opts == NULL) {
        return GF_OK;
    }
    if (!json_is_object(opts) || gf_json_check(opts, fields, 2, "/files", diag) != GF_OK) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/files",
                           "options of \"%s\" must be {\"mode\": "
                           "\"0644\", \"template\": true}",
                           u->m.files[i].path);
    }
    const char *mode = gf_json_str(opts, "mode");
    if (mode != NULL && gf_upload_mode(mode) < 0) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/files",
                           "mode of \"%s\" must be octal "
                           "permission bits such as \"0644\" (no setuid, setgid or sticky)",
                           u->m.files[i].path);
    }
    if (mode != NULL) {
        u->m.files[i].mode = (unsigned)gf_upload_mode(mode);
    }
    u->files[i].is_template = gf_json_bool(opts, "template", 0);
    return GF_OK;
}

enum gf_err gf_upload_parse(const char *content_type, const char *body, size_t len,
                            struct gf_upload *u, struct gf_diag *diag)
{
    char boundary[80];
    struct gf_mpart *parts = NULL;
    const struct gf_mpart *meta = NULL;
    size_t nparts = 0, nfiles = 0;
    enum gf_err err;

    memset(u, 0, sizeof(*u));
    if (gf_multipart_boundary(content_type, boundary, sizeof(boundary)) != GF_OK) {
        return gf_diag_set(diag, GF_ERR_MEDIATYPE, "Content-Type",
                           "bundles are uploaded as multipart/form-data");
    }
    if ((parts = gf_calloc(GF_MULTIPART_MAX_PARTS, sizeof(*parts))) == NULL) {
        return GF_ERR_NOMEM;
    }
    if ((err = gf_multipart_parse(body, len, boundary, parts, GF_MULTIPART_MAX_PARTS, &nparts,
                                  diag)) != GF_OK) {
        goto out;
    }
    for (size_t i = 0; i < nparts; i++) {
        if (strcmp(parts[i].name, "metadata") == 0 && meta == NULL) {
            meta = &parts[i];
        } else if (strcmp(parts[i].name, "file") == 0 && parts[i].has_filename) {
            nfiles++;
        } else {
            err = gf_diag_set(diag, GF_ERR_INVAL, parts[i].name,
                              "unexpected part \"%s\": send "
                              "one \"metadata\" part and \"file\" parts with a filename",
                              parts[i].name);
            goto out;
        }
    }
    if (meta == NULL) {
        err = gf_diag_set(diag, GF_ERR_INVAL, "metadata", "the \"metadata\" part is missing");
        goto out;
    }
    if (nfiles == 0 || nfiles > GF_MANIFEST_MAX_FILES) {
        err = gf_diag_set(diag, GF_ERR_INVAL, "file", "a bundle has 1 to %u files",
                          GF_MANIFEST_MAX_FILES);
        goto out;
    }
    if ((err = check_meta(u, meta->data, meta->len, diag)) != GF_OK) {
        goto out;
    }
    u->m.files = gf_calloc(nfiles, sizeof(*u->m.files));
    u->files = gf_calloc(nfiles, sizeof(*u->files));
    if (u->m.files == NULL || u->files == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < nparts; i++) {
        if (&parts[i] == meta) {
            continue;
        }
        struct gf_manifest_file *f = &u->m.files[u->m.nfiles];
        if (!gf_manifest_path_ok(parts[i].filename)) {
            err = gf_diag_set(diag, GF_ERR_INVAL, "file",
                              "\"%s\" is not a relative path inside "
                              "the bundle (no \"..\", \".\", empty parts or leading \"/\")",
                              parts[i].filename);
            goto out;
        }
        if (parts[i].len > GF_MANIFEST_FILE_MAX ||
            u->m.total_size + parts[i].len > GF_MANIFEST_TOTAL_MAX) {
            err = gf_diag_set(diag, GF_ERR_TOOBIG, parts[i].filename,
                              "files are at most %u "
                              "bytes each and %u in all",
                              GF_MANIFEST_FILE_MAX, GF_MANIFEST_TOTAL_MAX);
            goto out;
        }
        snprintf(f->path, sizeof(f->path), "%s", parts[i].filename);
        gf_sha256_hex(f->sha256, sizeof(f->sha256), parts[i].data, parts[i].len);
        f->size = parts[i].len;
        u->m.total_size += parts[i].len;
        u->m.nfiles++;
    }
    /* Sort by path, then pair each file with its part by name. */
    qsort(u->m.files, u->m.nfiles, sizeof(*u->m.files), by_path);
    for (size_t i = 0; i < u->m.nfiles; i++) {
        for (size_t j = 0; j < nparts; j++) {
            if (&parts[j] != meta && strcmp(parts[j].filename, u->m.files[i].path) == 0) {
                u->files[i].data = parts[j].data;
                u->files[i].len = parts[j].len;
                break;
            }
        }
        if (i > 0 && strcmp(u->m.files[i - 1].path, u->m.files[i].path) == 0) {
            err = gf_diag_set(diag, GF_ERR_INVAL, "file", "\"%s\" is uploaded twice",
                              u->m.files[i].path);
            goto out;
        }
        if ((err = file_options(u, i, diag)) != GF_OK) {
            goto out;
        }
        if (u->files[i].is_template) {
            struct gf_diag rd;
            gf_diag_clear(&rd);
            if (!gf_utf8_valid(u->files[i].data, u->files[i].len) ||
                gf_render_check(u->files[i].data, u->files[i].len, NULL, &rd) != GF_OK) {
                err = gf_diag_set(diag, GF_ERR_INVAL, u->m.files[i].path, "template \"%s\": %s",
                                  u->m.files[i].path, rd.msg[0] ? rd.msg : "must be UTF-8 text");
                goto out;
            }
            u->templated = 1;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(u->meta, "files"), k, v)
    {
        size_t i = 0;
        while (i < u->m.nfiles && strcmp(u->m.files[i].path, k) != 0) {
            i++;
        }
        if (i == u->m.nfiles) {
            err = gf_diag_set(diag, GF_ERR_INVAL, "/files",
                              "options for \"%s\", which is not "
                              "uploaded",
                              k);
            goto out;
        }
    }
    if (u->templated && u->offline) {
        err = gf_diag_set(diag, GF_ERR_INVAL, "/signing",
                          "templated bundles are rendered and "
                          "signed per node by the server; they cannot be signed offline");
    }
out:
    gf_free(parts);
    return err;
}
