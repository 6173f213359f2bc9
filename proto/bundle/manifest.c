/* SPDX-License-Identifier: Apache-2.0
 *
 * manifest.c - the bundle manifest codec. Decoding reads the exact signed bytes once with
 * jansson (duplicate members refused), checks every member against a field table (unknown
 * members refused), then applies the bundle rules: schema and type, lower-case UUIDs, names,
 * canonical timestamps, canonical relative paths with no duplicates and no file under
 * another file, octal modes without special bits, size caps and action names. Each refusal
 * carries an enum gf_reject and the JSON pointer of the member. The encoder is in
 * manifest_encode.c.
 */
#include "manifest.h"

#include "alloc.h"
#include "bjson.h"
#include "ids.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

#define BUNDLE_TYPE "gatefleet.bundle"
#define SELECTOR_MAX 1024u
#define ARCH_MAX 8u  /* entries of gf_manifest.target_arch */
#define ARCH_LEN 31u /* bytes of one architecture name */

_Static_assert(sizeof(((struct gf_manifest *)0)->target_arch) == ARCH_MAX * (ARCH_LEN + 1),
               "target_arch holds ARCH_MAX names of ARCH_LEN bytes");

static const char *const reject_names[GF_REJECT__COUNT] = {
    [GF_REJECT_NONE] = "none",
    [GF_REJECT_MALFORMED] = "malformed",
    [GF_REJECT_SCHEMA] = "schema",
    [GF_REJECT_SIGNATURE] = "signature",
    [GF_REJECT_UNKNOWN_KEY] = "unknown_key",
    [GF_REJECT_PROJECT] = "project",
    [GF_REJECT_NODE] = "node",
    [GF_REJECT_EXPIRED] = "expired",
    [GF_REJECT_ROLLBACK] = "rollback",
    [GF_REJECT_CONFLICT] = "conflict",
    [GF_REJECT_PATH] = "path",
    [GF_REJECT_HASH] = "hash",
    [GF_REJECT_SIZE] = "size",
    [GF_REJECT_ACTION] = "action",
    [GF_REJECT_TRUST] = "trust",
};

const char *gf_reject_str(enum gf_reject r)
{
    if ((unsigned)r >= GF_REJECT__COUNT || reject_names[r] == NULL) {
        return "unknown";
    }
    return reject_names[r];
}

static const struct gf_json_field top_fields[] = {
    {"schema", GF_JSON_INT, 1, 0, 0, 0, 0, 0},
    {"type", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"project", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"name", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"version", GF_JSON_INT, 1, 0, 0, 0, 1, INT64_MAX},
    {"created_at", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"expires_at", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"node", GF_JSON_STRING, 0, 0, 0, 0, 0, 0},
    {"target", GF_JSON_OBJECT, 0, 0, 0, 0, 0, 0},
    {"files", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
    {"actions", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
    {"health_check", GF_JSON_STRING, 0, 0, 0, 0, 0, 0},
    {"health_timeout_s", GF_JSON_INT, 1, 0, 0, 0, 1, GF_MANIFEST_HEALTH_TIMEOUT_MAX},
};

static const struct gf_json_field target_fields[] = {
    {"selector", GF_JSON_STRING, 0, 0, 0, 0, 0, 0},
    {"arch", GF_JSON_ARRAY, 0, 0, 0, 0, 0, 0},
};

static const struct gf_json_field file_fields[] = {
    {"path", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"sha256", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"size", GF_JSON_INT, 1, 0, 0, 0, 0, INT64_MAX},
    {"mode", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- names and paths ---------------------------------------------------------------- */

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int token_ok(const char *s, size_t max, const char *extra)
{
    size_t n;

    if (s == NULL || !is_lower_alnum(s[0])) {
        return 0;
    }
    for (n = 1; s[n] != '\0'; n++) {
        if (n >= max || !(is_lower_alnum(s[n]) || strchr(extra, s[n]) != NULL)) {
            return 0;
        }
    }
    return 1;
}

int gf_manifest_name_ok(const char *name)
{
    return token_ok(name, GF_MANIFEST_NAME_MAX, "._-");
}

int gf_manifest_action_ok(const char *name)
{
    return token_ok(name, GF_MANIFEST_ACTION_MAX, "._:-");
}

/* One component [p, p+n): not empty, not "." or "..". */
static int component_ok(const char *p, size_t n)
{
    return n > 0 && !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.');
}

int gf_manifest_path_ok(const char *path)
{
    const unsigned char *p = (const unsigned char *)path;
    size_t len, start = 0, depth = 0;

    if (path == NULL) {
        return 0;
    }
    len = strnlen(path, GF_MANIFEST_PATH_MAX + 1);
    if (len == 0 || len > GF_MANIFEST_PATH_MAX || !gf_utf8_valid(path, len)) {
        return 0;
    }
    for (size_t i = 0; i <= len; i++) {
        /* C0 controls, DEL, backslash and C1 controls (U+0080..U+009F = C2 80..C2 9F) */
        if (p[i] == '\\' || (p[i] < 0x20 && i < len) || p[i] == 0x7F ||
            (p[i] == 0xC2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)) {
            return 0;
        }
        if (i == len || p[i] == '/') {
            if (!component_ok(path + start, i - start) || ++depth > GF_MANIFEST_PATH_DEPTH) {
                return 0;
            }
            start = i + 1;
        }
    }
    return 1;
}

/* ---- decoding ------------------------------------------------------------------------ */

/* "0644" / "644": permission bits only. */
static int mode_parse(const char *s, unsigned *out)
{
    size_t n = strnlen(s, 5);
    unsigned v = 0;

    if (n < 3 || n > 4 || (n == 4 && s[0] != '0')) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7') {
            return 0;
        }
        v = v * 8u + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 1;
}

static enum gf_err decode_head(const json_t *root, struct gf_manifest *m, enum gf_reject *why,
                               struct gf_diag *diag)
{
    const char *project = gf_json_str(root, "project");
    const char *node = gf_json_str(root, "node");
    const char *name = gf_json_str(root, "name");

    m->schema = GF_MANIFEST_SCHEMA;
    if (!gf_bjson_uuid_ok(project)) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/project",
                               "project must be a lower-case UUID");
    }
    memcpy(m->project, project, sizeof(m->project));
    if (node != NULL) {
        if (!gf_bjson_uuid_ok(node)) {
            return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/node",
                                   "node must be a lower-case UUID");
        }
        memcpy(m->node, node, sizeof(m->node));
    }
    if (!gf_manifest_name_ok(name)) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/name",
                               "name must be 1..%u of [a-z0-9._-] starting with [a-z0-9]",
                               GF_MANIFEST_NAME_MAX);
    }
    memcpy(m->name, name, strlen(name) + 1);
    m->version = (uint64_t)gf_json_int(root, "version", 0);
    if (gf_bjson_time_parse(gf_json_str(root, "created_at"), &m->created_us) != GF_OK) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/created_at",
                               "created_at must be YYYY-MM-DDTHH:MM:SSZ");
    }
    if (gf_bjson_time_parse(gf_json_str(root, "expires_at"), &m->expires_us) != GF_OK) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/expires_at",
                               "expires_at must be YYYY-MM-DDTHH:MM:SSZ");
    }
    if (m->expires_us <= m->created_us) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/expires_at",
                               "expires_at must be after created_at");
    }
    m->health_timeout_s = (int)gf_json_int(root, "health_timeout_s", 0);
    return GF_OK;
}

static int arch_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= ARCH_LEN || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
            return 0;
        }
    }
    return n > 0;
}

static enum gf_err decode_target(const json_t *target, struct gf_manifest *m, enum gf_reject *why,
                                 struct gf_diag *diag)
{
    enum gf_err err =
        gf_bjson_check(target, target_fields, NFIELDS(target_fields), "/target", why, diag);
    const char *sel = gf_json_str(target, "selector");
    const json_t *arch = json_object_get(target, "arch");
    const json_t *a;
    size_t i;
    char where[64];

    if (err != GF_OK) {
        return err;
    }
    if (sel != NULL && strlen(sel) > SELECTOR_MAX) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/target/selector",
                               "selector is longer than %u bytes", SELECTOR_MAX);
    }
    if (sel != NULL) {
        memcpy(m->target_selector, sel, strlen(sel) + 1);
    }
    if (json_array_size(arch) > ARCH_MAX) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/target/arch",
                               "at most %u architectures", ARCH_MAX);
    }
    json_array_foreach(arch, i, a)
    {
        snprintf(where, sizeof(where), "/target/arch/%zu", i);
        if (!json_is_string(a) || !arch_ok(json_string_value(a))) {
            return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where,
                                   "architecture must be 1..%u of [A-Za-z0-9._-]", ARCH_LEN);
        }
        memcpy(m->target_arch[i], json_string_value(a), json_string_length(a) + 1);
    }
    m->narch = json_array_size(arch);
    return GF_OK;
}

static enum gf_err decode_file(const json_t *o, size_t idx, struct gf_manifest_file *f,
                               enum gf_reject *why, struct gf_diag *diag)
{
    char where[64];
    enum gf_err err;
    const char *path, *sha, *mode;
    long long size;

    snprintf(where, sizeof(where), "/files/%zu", idx);
    err = gf_bjson_check(o, file_fields, NFIELDS(file_fields), where, why, diag);
    if (err != GF_OK) {
        return err;
    }
    path = gf_json_str(o, "path");
    sha = gf_json_str(o, "sha256");
    mode = gf_json_str(o, "mode");
    size = gf_json_int(o, "size", 0);
    snprintf(where, sizeof(where), "/files/%zu/path", idx);
    if (!gf_manifest_path_ok(path)) {
        return gf_bjson_reject(why, GF_REJECT_PATH, diag, where,
                               "path must be relative and canonical (no \"..\", \".\", empty "
                               "components, backslashes or control characters)");
    }
    memcpy(f->path, path, strlen(path) + 1);
    snprintf(where, sizeof(where), "/files/%zu/sha256", idx);
    if (!gf_bjson_hex_ok(sha, GF_SHA256_HEX_LEN)) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where,
                               "sha256 must be 64 lower-case hex characters");
    }
    memcpy(f->sha256, sha, sizeof(f->sha256));
    snprintf(where, sizeof(where), "/files/%zu/size", idx);
    if ((unsigned long long)size > GF_MANIFEST_FILE_MAX) {
        return gf_bjson_reject(why, GF_REJECT_SIZE, diag, where, "file is larger than %u bytes",
                               GF_MANIFEST_FILE_MAX);
    }
    f->size = (uint64_t)size;
    snprintf(where, sizeof(where), "/files/%zu/mode", idx);
    if (!mode_parse(mode, &f->mode)) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where,
                               "mode must be 3 or 4 octal digits up to 0777 (no setuid, "
                               "setgid or sticky bit)");
    }
    return GF_OK;
}

/* Two files with one path, or one path a directory prefix of another ("a" and "a/b"). */
static int paths_clash(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la == lb) {
        return memcmp(a, b, la) == 0;
    }
    if (la > lb) {
        const char *t = a;
        a = b;
        b = t;
        la = lb;
    }
    return memcmp(a, b, la) == 0 && b[la] == '/';
}

static enum gf_err decode_files(const json_t *files, struct gf_manifest *m, enum gf_reject *why,
                                struct gf_diag *diag)
{
    size_t n = json_array_size(files);
    enum gf_err err;
    char where[64];

    if (n > GF_MANIFEST_MAX_FILES) {
        return gf_bjson_reject(why, GF_REJECT_SIZE, diag, "/files", "more than %u files",
                               GF_MANIFEST_MAX_FILES);
    }
    if (n == 0) {
        return GF_OK;
    }
    m->files = gf_calloc(n, sizeof(*m->files));
    if (m->files == NULL) {
        return gf_diag_set(diag, GF_ERR_NOMEM, "/files", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        err = decode_file(json_array_get(files, i), i, &m->files[i], why, diag);
        if (err != GF_OK) {
            return err;
        }
        m->nfiles = i + 1;
        m->total_size += m->files[i].size;
        if (m->total_size > GF_MANIFEST_TOTAL_MAX) {
            snprintf(where, sizeof(where), "/files/%zu/size", i);
            return gf_bjson_reject(why, GF_REJECT_SIZE, diag, where,
                                   "bundle is larger than %u bytes", GF_MANIFEST_TOTAL_MAX);
        }
        for (size_t j = 0; j < i; j++) {
            if (paths_clash(m->files[j].path, m->files[i].path)) {
                snprintf(where, sizeof(where), "/files/%zu/path", i);
                return gf_bjson_reject(why, GF_REJECT_PATH, diag, where,
                                       "path clashes with /files/%zu/path (same path, or one "
                                       "is a directory of the other)",
                                       j);
            }
        }
    }
    return GF_OK;
}

static enum gf_err decode_actions(const json_t *root, struct gf_manifest *m, enum gf_reject *why,
                                  struct gf_diag *diag)
{
    const json_t *actions = json_object_get(root, "actions");
    const char *hc = gf_json_str(root, "health_check");
    const json_t *a;
    size_t i;
    char where[64];

    if (json_array_size(actions) > GF_MANIFEST_MAX_ACTIONS) {
        return gf_bjson_reject(why, GF_REJECT_SIZE, diag, "/actions", "more than %u actions",
                               GF_MANIFEST_MAX_ACTIONS);
    }
    json_array_foreach(actions, i, a)
    {
        snprintf(where, sizeof(where), "/actions/%zu", i);
        if (!json_is_string(a)) {
            return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where,
                                   "action must be a string");
        }
        if (!gf_manifest_action_ok(json_string_value(a))) {
            return gf_bjson_reject(why, GF_REJECT_ACTION, diag, where,
                                   "action must be 1..%u of [a-z0-9._:-] starting with [a-z0-9]",
                                   GF_MANIFEST_ACTION_MAX);
        }
        memcpy(m->actions[i], json_string_value(a), json_string_length(a) + 1);
    }
    m->nactions = json_array_size(actions);
    if (hc != NULL) {
        if (!gf_manifest_action_ok(hc)) {
            return gf_bjson_reject(why, GF_REJECT_ACTION, diag, "/health_check",
                                   "health_check must be a valid action name");
        }
        memcpy(m->health_check, hc, strlen(hc) + 1);
    }
    return GF_OK;
}

enum gf_err gf_manifest_decode(const char *data, size_t len, struct gf_manifest *m,
                               enum gf_reject *reason, struct gf_diag *diag)
{
    enum gf_reject why = GF_REJECT_MALFORMED;
    enum gf_err err;
    json_t *root = NULL;
    const json_t *target;

    memset(m, 0, sizeof(*m));
    gf_diag_clear(diag);
    if (len > GF_MANIFEST_MAX_BYTES) {
        why = GF_REJECT_SIZE;
        err = gf_diag_set(diag, GF_ERR_TOOBIG, "", "manifest is larger than %u bytes",
                          GF_MANIFEST_MAX_BYTES);
        goto out;
    }
    err = gf_bjson_open(data, len, BUNDLE_TYPE, top_fields, NFIELDS(top_fields), &root, &why, diag);
    if (err == GF_OK) {
        err = decode_head(root, m, &why, diag);
    }
    target = json_object_get(root, "target");
    if (err == GF_OK && target != NULL) {
        err = decode_target(target, m, &why, diag);
    }
    if (err == GF_OK) {
        err = decode_files(json_object_get(root, "files"), m, &why, diag);
    }
    if (err == GF_OK) {
        err = decode_actions(root, m, &why, diag);
    }
    if (err == GF_OK) {
        gf_sha256_hex(m->sha256, sizeof(m->sha256), data, len);
        why = GF_REJECT_NONE;
    }
out:
    if (err != GF_OK) {
        gf_manifest_free(m);
    }
    json_decref(root);
    if (reason != NULL) {
        *reason = why;
    }
    return err;
}

void gf_manifest_free(struct gf_manifest *m)
{
    if (m != NULL) {
        gf_free(m->files);
        memset(m, 0, sizeof(*m));
    }
}
