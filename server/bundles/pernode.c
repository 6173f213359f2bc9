/* SPDX-License-Identifier: Apache-2.0
 *
 * pernode.c - nodes' instances of a templated bundle (see pernode.h). The opened template
 * keeps the stored manifest decoded, one rendering buffer per template file and the signing
 * key; each node's instance overwrites the template files' hash and size in that manifest,
 * names the node, and is encoded and signed. The batch is three JSON documents that the
 * statements of q_bundles.c take apart in PostgreSQL: the nodes' envelopes, their files,
 * and the new blobs (keyed by hash, so a rendering shared by many nodes travels once).
 */
#include "pernode.h"

#include "../store/db.h"
#include "../store/q_bundles.h"
#include "alloc.h"
#include "buf.h"
#include "ids.h"
#include "json.h"
#include "manifest.h"
#include "render.h"
#include "sign.h"
#include "trustroot.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* One template file of the bundle: its manifest entry and text (borrowed from files). */
struct tpl {
    size_t k; /* index in m.files */
    const char *text;
    size_t len;
    struct gf_buf out; /* the current node's rendering */
};

struct gf_pernode {
    struct gf_manifest m;
    PGresult *files; /* gf_q_bundle_files: owns the template texts */
    struct tpl *tpls;
    size_t ntpls;
    json_t *params; /* the bundle's value table: {"default": {...}, "nodes": {id: {...}}} */
    unsigned char sk[GF_SECKEY_LEN];
    char key_id[GF_KEY_ID_LEN + 1];
    /* the batch */
    json_t *nodes;  /* [{n, env, sha}] */
    json_t *nfiles; /* [{n, p, s}] */
    json_t *blobs;  /* {sha: {z, c}}: rendered files new in this batch */
    size_t bytes;
    char *env; /* the last node's envelope and manifest hash */
    char sha[65];
};

static enum gf_err load_templates(struct gf_pernode *t, struct gf_dbconn *db, const char *bundle)
{
    const char *p[1] = {bundle};
    enum gf_err err = gf_db_exec(db, &gf_q_bundle_files, p, &t->files);

    if (err != GF_OK) {
        return err;
    }
    int rows = PQntuples(t->files);
    if ((t->tpls = gf_calloc(rows > 0 ? (size_t)rows : 1, sizeof(*t->tpls))) == NULL) {
        return GF_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++) {
        if (strcmp(PQgetvalue(t->files, i, 4), "t") != 0) {
            continue;
        }
        const char *path = PQgetvalue(t->files, i, 0);
        size_t k = 0;
        while (k < t->m.nfiles && strcmp(t->m.files[k].path, path) != 0) {
            k++;
        }
        if (k == t->m.nfiles) {
            return GF_ERR_INTERNAL; /* a template file that the manifest does not list */
        }
        struct tpl *x = &t->tpls[t->ntpls++];
        x->k = k;
        x->text = PQgetvalue(t->files, i, 5);
        x->len = (size_t)PQgetlength(t->files, i, 5);
        gf_buf_init(&x->out, GF_MANIFEST_FILE_MAX);
    }
    return GF_OK;
}

enum gf_err gf_pernode_open(struct gf_dbconn *db, const unsigned char master[32], const PGresult *b,
                            const char *bundle, struct gf_pernode **out, struct gf_diag *diag)
{
    const char *manifest = PQgetvalue(b, 0, 1), *project = PQgetvalue(b, 0, 4);
    struct gf_pernode *t = gf_calloc(1, sizeof(*t));
    enum gf_reject reason;
    enum gf_err err;

    if (t == NULL) {
        return GF_ERR_NOMEM;
    }
    if (gf_manifest_decode(manifest, strlen(manifest), &t->m, &reason, NULL) != GF_OK) {
        err = GF_ERR_INTERNAL;
        goto out;
    }
    if ((err = load_templates(t, db, bundle)) != GF_OK) {
        goto out;
    }
    t->params = json_loads(PQgetvalue(b, 0, 10), 0, NULL);
    t->nodes = json_array();
    t->nfiles = json_array();
    t->blobs = json_object();
    if (t->nodes == NULL || t->nfiles == NULL || t->blobs == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    err = gf_trustroot_signer(db, master, project, NULL, t->sk, t->key_id);
    if (err == GF_ERR_NOTFOUND) {
        err = gf_diag_set(diag, GF_ERR_CONFLICT, "/bundle_id",
                          "the project's trust root holds no server-held key to sign the "
                          "nodes' instances of this templated bundle");
    }
out:
    if (err != GF_OK) {
        gf_pernode_free(t);
        return err;
    }
    *out = t;
    return GF_OK;
}

/* Render every template for the node into its buffer. */
static enum gf_err render_all(struct gf_pernode *t, const char *node, const json_t *labels,
                              struct gf_diag *diag)
{
    const json_t *row = json_object_get(json_object_get(t->params, "nodes"), node);
    const json_t *defaults = json_object_get(t->params, "default");
    struct gf_diag d;

    for (size_t i = 0; i < t->ntpls; i++) {
        struct tpl *x = &t->tpls[i];
        const char *path = t->m.files[x->k].path;
        x->out.len = 0;
        gf_diag_clear(&d);
        enum gf_err err = gf_render(x->text, x->len, row, labels, defaults, &x->out, &d);
        if (err == GF_ERR_INVAL) {
            return gf_diag_set(diag, GF_ERR_UNPROCESSABLE, "/bundle_id", "template %s: %s", path,
                               d.msg);
        }
        if (err == GF_ERR_TOOBIG) {
            return gf_diag_set(diag, GF_ERR_UNPROCESSABLE, "/bundle_id",
                               "template %s: the rendered file is over %u bytes", path,
                               GF_MANIFEST_FILE_MAX);
        }
        if (err != GF_OK) {
            return err;
        }
        struct gf_manifest_file *f = &t->m.files[x->k];
        gf_sha256_hex(f->sha256, sizeof(f->sha256), x->out.data ? x->out.data : "", x->out.len);
        f->size = x->out.len;
    }
    return GF_OK;
}

/* The node's manifest, signed: envelope into *env (gf_free), manifest hash into sha. */
static enum gf_err sign_instance(struct gf_pernode *t, const char *node, char **env, size_t *envlen,
                                 char sha[65], struct gf_diag *diag)
{
    unsigned char sig[GF_SIG_LEN];
    char *text = NULL;
    size_t tlen = 0;
    enum gf_err err;

    snprintf(t->m.node, sizeof(t->m.node), "%s", node);
    if ((err = gf_manifest_encode(&t->m, &text, &tlen)) != GF_OK) {
        return err == GF_ERR_INVAL ? gf_diag_set(diag, GF_ERR_UNPROCESSABLE, "/bundle_id",
                                                 "the node's instance breaks a manifest rule "
                                                 "(total size over the bundle cap?)")
                                   : err;
    }
    gf_sha256_hex(sha, 65, text, tlen);
    gf_sign_detached(t->sk, text, tlen, sig);
    err = gf_envelope_encode(text, tlen, t->key_id, sig, env, envlen);
    gf_free(text);
    return err;
}

/* Add the node's rendered files to the batch (new blobs once). */
static enum gf_err add_files(struct gf_pernode *t, const char *node)
{
    for (size_t i = 0; i < t->ntpls; i++) {
        const struct tpl *x = &t->tpls[i];
        const struct gf_manifest_file *f = &t->m.files[x->k];
        json_t *row = json_pack("{s:s, s:s, s:s}", "n", node, "p", f->path, "s", f->sha256);
        if (row == NULL || json_array_append_new(t->nfiles, row) != 0) {
            return GF_ERR_NOMEM;
        }
        if (json_object_get(t->blobs, f->sha256) != NULL) {
            continue;
        }
        size_t cap = 2 * x->out.len + 1;
        char *hex = gf_malloc(cap);
        if (hex == NULL) {
            return GF_ERR_NOMEM;
        }
        gf_hex_encode(hex, cap, (const unsigned char *)(x->out.data ? x->out.data : ""),
                      x->out.len);
        json_t *blob = json_pack("{s:I, s:s}", "z", (json_int_t)x->out.len, "c", hex);
        gf_free(hex);
        if (blob == NULL || json_object_set_new(t->blobs, f->sha256, blob) != 0) {
            return GF_ERR_NOMEM;
        }
    }
    return GF_OK;
}

/* What the node's instance adds to the batch, in bytes sent. */
static size_t instance_bytes(const struct gf_pernode *t, size_t envlen)
{
    size_t n = envlen + 128;

    for (size_t i = 0; i < t->ntpls; i++) {
        const struct gf_manifest_file *f = &t->m.files[t->tpls[i].k];
        n += 160 + strlen(f->path);
        if (json_object_get(t->blobs, f->sha256) == NULL) {
            n += 2 * t->tpls[i].out.len;
        }
    }
    return n;
}

enum gf_err gf_pernode_add(struct gf_pernode *t, const char *node, const char *labels,
                           struct gf_diag *diag)
{
    json_t *lab = labels ? json_loads(labels, 0, NULL) : NULL;
    char *env = NULL, sha[65];
    size_t envlen = 0;
    enum gf_err err;

    if ((err = render_all(t, node, lab, diag)) != GF_OK ||
        (err = sign_instance(t, node, &env, &envlen, sha, diag)) != GF_OK) {
        goto out;
    }
    size_t more = instance_bytes(t, envlen);
    if (json_array_size(t->nodes) > 0 && t->bytes + more > GF_PERNODE_BATCH_BYTES) {
        err = GF_ERR_TOOBIG;
        goto out;
    }
    json_t *row = json_pack("{s:s, s:s, s:s}", "n", node, "env", env, "sha", sha);
    if (row == NULL || json_array_append_new(t->nodes, row) != 0 ||
        (err = add_files(t, node)) != GF_OK) {
        err = err != GF_OK ? err : GF_ERR_NOMEM;
        goto out;
    }
    t->bytes += more;
    gf_free(t->env);
    t->env = env;
    env = NULL;
    snprintf(t->sha, sizeof(t->sha), "%s", sha);
out:
    gf_free(env);
    json_decref(lab);
    return err;
}

size_t gf_pernode_count(const struct gf_pernode *t)
{
    return json_array_size(t->nodes);
}

const char *gf_pernode_envelope(const struct gf_pernode *t)
{
    return t->env;
}

const char *gf_pernode_sha256(const struct gf_pernode *t)
{
    return t->env ? t->sha : NULL;
}

enum gf_err gf_pernode_batch_json(const struct gf_pernode *t, char **out)
{
    return (*out = json_dumps(t->nodes, JSON_COMPACT)) != NULL ? GF_OK : GF_ERR_NOMEM;
}

enum gf_err gf_pernode_store(struct gf_pernode *t, struct gf_dbconn *db)
{
    char *blobs = NULL, *files = NULL;
    enum gf_err err = GF_OK;

    if (json_array_size(t->nodes) == 0) {
        return GF_OK;
    }
    if ((blobs = json_dumps(t->blobs, JSON_COMPACT)) == NULL ||
        (files = json_dumps(t->nfiles, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    const char *bp[1] = {blobs};
    const char *fp[1] = {files};
    if ((err = gf_db_exec(db, &gf_q_blobs_put_batch, bp, NULL)) == GF_OK) {
        err = gf_db_exec(db, &gf_q_node_files_replace, fp, NULL);
    }
out:
    free(blobs);
    free(files);
    return err;
}

void gf_pernode_reset(struct gf_pernode *t)
{
    json_array_clear(t->nodes);
    json_array_clear(t->nfiles);
    json_object_clear(t->blobs);
    t->bytes = 0;
    gf_free(t->env);
    t->env = NULL;
}

void gf_pernode_free(struct gf_pernode *t)
{
    if (t == NULL) {
        return;
    }
    sodium_memzero(t->sk, sizeof(t->sk));
    for (size_t i = 0; i < t->ntpls; i++) {
        gf_buf_free(&t->tpls[i].out);
    }
    gf_free(t->tpls);
    PQclear(t->files);
    gf_manifest_free(&t->m);
    json_decref(t->params);
    json_decref(t->nodes);
    json_decref(t->nfiles);
    json_decref(t->blobs);
    gf_free(t->env);
    gf_free(t);
}
