/* SPDX-License-Identifier: Apache-2.0
 *
 * manifest_encode.c - canonical bytes of a bundle manifest (manifest.h): the fixed member
 * order of the format, compact, node, target and health_check left out when empty, written
 * into a buffer capped at GF_MANIFEST_MAX_BYTES. The result is handed out only after
 * gf_manifest_decode accepts it, so an encoder can never produce bytes an agent refuses.
 */
#include "manifest.h"

#include "alloc.h"
#include "bjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BUNDLE_TYPE "gatefleet.bundle"

/* 1 if the char array a of size cap holds a NUL-terminated string. */
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static int encodable(const struct gf_manifest *m)
{
    if (m->nfiles > GF_MANIFEST_MAX_FILES || (m->nfiles > 0 && m->files == NULL) ||
        m->narch > sizeof(m->target_arch) / sizeof(m->target_arch[0]) ||
        m->nactions > GF_MANIFEST_MAX_ACTIONS || m->version > (uint64_t)INT64_MAX ||
        m->created_us % 1000000 != 0 || m->expires_us % 1000000 != 0 || !TERMINATED(m->project) ||
        !TERMINATED(m->node) || !TERMINATED(m->name) || !TERMINATED(m->target_selector) ||
        !TERMINATED(m->health_check)) {
        return 0;
    }
    for (size_t i = 0; i < m->narch; i++) {
        if (!TERMINATED(m->target_arch[i])) {
            return 0;
        }
    }
    for (size_t i = 0; i < m->nactions; i++) {
        if (!TERMINATED(m->actions[i])) {
            return 0;
        }
    }
    for (size_t i = 0; i < m->nfiles; i++) {
        if (!TERMINATED(m->files[i].path) || !TERMINATED(m->files[i].sha256)) {
            return 0;
        }
    }
    return 1;
}

/* ,"key": */
static enum gf_err put_key(struct gf_buf *b, const char *key)
{
    return gf_buf_printf(b, ",\"%s\":", key);
}

static enum gf_err put_head(struct gf_buf *b, const struct gf_manifest *m)
{
    char created[GF_BJSON_TIME_LEN + 1], expires[GF_BJSON_TIME_LEN + 1];
    enum gf_err err;

    if (gf_bjson_time_format(m->created_us, created, sizeof(created)) != GF_OK ||
        gf_bjson_time_format(m->expires_us, expires, sizeof(expires)) != GF_OK) {
        return GF_ERR_INVAL;
    }
    err = gf_buf_printf(b, "{\"schema\":%d,\"type\":\"%s\",\"project\":", m->schema, BUNDLE_TYPE);
    if (err == GF_OK) {
        err = gf_bjson_put_str(b, m->project);
    }
    if (err == GF_OK && (err = put_key(b, "name")) == GF_OK) {
        err = gf_bjson_put_str(b, m->name);
    }
    if (err == GF_OK) {
        err = gf_buf_printf(b,
                            ",\"version\":%" PRIu64 ",\"created_at\":\"%s\","
                            "\"expires_at\":\"%s\"",
                            m->version, created, expires);
    }
    if (err == GF_OK && m->node[0] != '\0' && (err = put_key(b, "node")) == GF_OK) {
        err = gf_bjson_put_str(b, m->node);
    }
    return err;
}

static enum gf_err put_target(struct gf_buf *b, const struct gf_manifest *m)
{
    enum gf_err err;

    if (m->target_selector[0] == '\0' && m->narch == 0) {
        return GF_OK;
    }
    err = gf_buf_puts(b, ",\"target\":{");
    if (err == GF_OK && m->target_selector[0] != '\0') {
        err = gf_buf_puts(b, "\"selector\":");
        if (err == GF_OK) {
            err = gf_bjson_put_str(b, m->target_selector);
        }
        if (err == GF_OK && m->narch > 0) {
            err = gf_buf_puts(b, ",");
        }
    }
    if (err == GF_OK && m->narch > 0) {
        err = gf_buf_puts(b, "\"arch\":[");
        for (size_t i = 0; err == GF_OK && i < m->narch; i++) {
            err = gf_buf_puts(b, i > 0 ? "," : "");
            if (err == GF_OK) {
                err = gf_bjson_put_str(b, m->target_arch[i]);
            }
        }
        if (err == GF_OK) {
            err = gf_buf_puts(b, "]");
        }
    }
    return err == GF_OK ? gf_buf_puts(b, "}") : err;
}

static enum gf_err put_files(struct gf_buf *b, const struct gf_manifest *m)
{
    enum gf_err err = gf_buf_puts(b, ",\"files\":[");

    for (size_t i = 0; err == GF_OK && i < m->nfiles; i++) {
        const struct gf_manifest_file *f = &m->files[i];
        err = gf_buf_puts(b, i > 0 ? ",{\"path\":" : "{\"path\":");
        if (err == GF_OK) {
            err = gf_bjson_put_str(b, f->path);
        }
        if (err == GF_OK && (err = put_key(b, "sha256")) == GF_OK) {
            err = gf_bjson_put_str(b, f->sha256);
        }
        if (err == GF_OK) {
            err = gf_buf_printf(b, ",\"size\":%" PRIu64 ",\"mode\":\"%04o\"}", f->size, f->mode);
        }
    }
    return err == GF_OK ? gf_buf_puts(b, "]") : err;
}

static enum gf_err put_tail(struct gf_buf *b, const struct gf_manifest *m)
{
    enum gf_err err = gf_buf_puts(b, ",\"actions\":[");

    for (size_t i = 0; err == GF_OK && i < m->nactions; i++) {
        err = gf_buf_puts(b, i > 0 ? "," : "");
        if (err == GF_OK) {
            err = gf_bjson_put_str(b, m->actions[i]);
        }
    }
    if (err == GF_OK) {
        err = gf_buf_puts(b, "]");
    }
    if (err == GF_OK && m->health_check[0] != '\0' && (err = put_key(b, "health_check")) == GF_OK) {
        err = gf_bjson_put_str(b, m->health_check);
    }
    if (err == GF_OK) {
        err = gf_buf_printf(b, ",\"health_timeout_s\":%d}", m->health_timeout_s);
    }
    return err;
}

enum gf_err gf_manifest_encode(const struct gf_manifest *m, char **out, size_t *outlen)
{
    struct gf_buf b;
    struct gf_manifest check;
    enum gf_err err;

    memset(&check, 0, sizeof(check));
    gf_buf_init(&b, GF_MANIFEST_MAX_BYTES);
    if (m == NULL || !encodable(m)) {
        err = GF_ERR_INVAL;
        goto out;
    }
    err = put_head(&b, m);
    if (err == GF_OK) {
        err = put_target(&b, m);
    }
    if (err == GF_OK) {
        err = put_files(&b, m);
    }
    if (err == GF_OK) {
        err = put_tail(&b, m);
    }
    if (err != GF_OK) {
        goto out;
    }
    /* the bytes are only handed out when they pass the same checks an agent applies */
    err = gf_manifest_decode(b.data, b.len, &check, NULL, NULL);
    if (err == GF_ERR_PARSE) {
        err = GF_ERR_INVAL;
    }
    if (err == GF_OK) {
        *out = gf_buf_steal(&b, outlen);
    }
out:
    gf_manifest_free(&check);
    gf_buf_free(&b);
    return err;
}
