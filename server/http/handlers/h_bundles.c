/* SPDX-License-Identifier: Apache-2.0
 *
 * h_bundles.c - /api/v1/projects/{project_id}/bundles and /api/v1/bundles/{bundle_id}:
 * publishing signed configuration bundles (docs/bundle-format.md). An upload
 * (bundles/upload.h) gets the next version of its name under a per-(project, name) lock,
 * its blobs are stored once by SHA-256 (shared across versions and bundles), and its
 * manifest is built by the server and signed with the project's server-held key
 * ("signing": "server", the default; the project's first key is made on first use) or
 * left "unsigned" until an operator posts a signature made offline with a registered key
 * (POST /bundles/{id}/signature), so a compromised server cannot publish on its own.
 */
#include "handlers.h"

#include "../../bundles/published.h"
#include "../../bundles/trustroot.h"
#include "../../bundles/upload.h"
#include "../../core/app.h"
#include "../../store/q_bundles.h"
#include "../respond.h"
#include "alloc.h"
#include "ids.h"
#include "sign.h"
#include "timefmt.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EXPIRY_US (365LL * 86400 * 1000000)

/* Store data as a blob (deduplicated by hash). */
enum gf_err gf_h_blob_put(struct gf_dbconn *db, const char *sha, const void *data, size_t len)
{
    char size[24];
    size_t cap = 2 * len + 3;
    char *hex = gf_malloc(cap);
    enum gf_err err;

    if (hex == NULL) {
        return GF_ERR_NOMEM;
    }
    hex[0] = '\\';
    hex[1] = 'x';
    gf_hex_encode(hex + 2, cap - 2, data, len);
    snprintf(size, sizeof(size), "%zu", len);
    const char *p[3] = {sha, size, hex};
    err = gf_db_exec(db, &gf_q_blob_put, p, NULL);
    gf_free(hex);
    return err;
}

static enum gf_err store_files(struct gf_dbconn *db, const char *bundle, const struct gf_upload *u)
{
    enum gf_err err = GF_OK;

    for (size_t i = 0; err == GF_OK && i < u->m.nfiles; i++) {
        const struct gf_manifest_file *f = &u->m.files[i];
        char mode[8], size[24];
        snprintf(mode, sizeof(mode), "%u", f->mode);
        snprintf(size, sizeof(size), "%llu", (unsigned long long)f->size);
        const char *p[6] = {bundle, f->path, f->sha256,
                            mode,   size,    u->files[i].is_template ? "true" : "false"};
        if ((err = gf_h_blob_put(db, f->sha256, u->files[i].data, u->files[i].len)) == GF_OK) {
            err = gf_db_exec(db, &gf_q_bundle_file_insert, p, NULL);
        }
    }
    return err;
}

enum gf_err gf_h_bundles_create(struct gf_req *r)
{
    const char *project = gf_req_param(r, "project_id");
    char key_id[GF_KEY_ID_LEN + 1] = "", sig[2 * GF_SIG_LEN + 1] = "", expires[40], version[24];
    struct gf_upload u;
    struct gf_diag d;
    struct gf_dbconn *db;
    PGresult *lock = NULL, *ins = NULL;
    char *manifest = NULL, *params = NULL, *target = NULL;
    size_t mlen = 0, blen = 0;
    const char *body = gf_req_body(r, &blen);
    enum gf_err err;

    gf_diag_clear(&d);
    if ((err = gf_upload_parse(gf_req_header(r, "Content-Type"), body, blen, &u, &d)) != GF_OK) {
        err = gf_req_fail(r, err, d.where, "%s", d.msg);
        goto out;
    }
    if ((err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *lp[2] = {project, u.m.name};
    if ((err = gf_db_exec(db, &gf_q_bundle_lock, lp, NULL)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_bundle_next_version, lp, &lock)) != GF_OK) {
        goto out;
    }
    snprintf(u.m.project, sizeof(u.m.project), "%s", project);
    u.m.schema = GF_MANIFEST_SCHEMA;
    u.m.version = strtoull(PQgetvalue(lock, 0, 0), NULL, 10);
    u.m.created_us = gf_time_now_us() / 1000000 * 1000000;
    u.m.expires_us =
        u.expires_us ? u.expires_us / 1000000 * 1000000 : u.m.created_us + DEFAULT_EXPIRY_US;
    if ((err = gf_manifest_encode(&u.m, &manifest, &mlen)) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, "file",
                          "the files break a bundle rule (two paths "
                          "where one is a directory of the other?)");
        goto out;
    }
    gf_sha256_hex(u.m.sha256, sizeof(u.m.sha256), manifest, mlen);
    if (!u.offline && (err = gf_trustroot_sign(db, gf_req_app(r)->master_key, project, manifest,
                                               mlen, key_id, sig, &d)) != GF_OK) {
        err = gf_req_fail(r, err, d.where, "%s", d.msg[0] ? d.msg : "cannot sign the bundle");
        goto out;
    }
    if (u.parameters != NULL && (params = json_dumps(u.parameters, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if (u.target != NULL && (target = json_dumps(u.target, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    gf_time_format_rfc3339(u.m.expires_us, expires, sizeof(expires));
    snprintf(version, sizeof(version), "%llu", (unsigned long long)u.m.version);
    const char *p[14] = {project,
                         u.m.name,
                         version,
                         manifest,
                         u.m.sha256,
                         u.offline ? "unsigned" : "published",
                         u.offline ? NULL : key_id,
                         u.offline ? NULL : sig,
                         u.templated ? "true" : "false",
                         params,
                         u.description ? u.description : "",
                         gf_req_who(r)->user_id[0] ? gf_req_who(r)->user_id : NULL,
                         expires,
                         target};
    if ((err = gf_db_exec(db, &gf_q_bundle_insert, p, &ins)) != GF_OK ||
        (err = store_files(db, PQgetvalue(ins, 0, 0), &u)) != GF_OK) {
        err = gf_req_db_fail(r, err, "bundle", NULL);
        goto out;
    }
    gf_req_audit_object(r, PQgetvalue(ins, 0, 0));
    gf_req_audit_detail(r,
                        json_pack("{s:s, s:I, s:s, s:s, s:i}", "name", u.m.name, "version",
                                  (json_int_t)u.m.version, "manifest_sha256", u.m.sha256, "signing",
                                  u.offline ? "offline" : "server", "files", (int)u.m.nfiles));
    const char *gp[1] = {PQgetvalue(ins, 0, 0)};
    err = gf_reply_row(r, &gf_q_bundle_get, gp, 201, "bundle");
out:
    gf_free(manifest);
    free(params);
    free(target);
    PQclear(lock);
    PQclear(ins);
    gf_upload_free(&u);
    return err;
}

enum gf_err gf_h_bundles_list(struct gf_req *r)
{
    const char *name = gf_req_query(r, "name"), *status = gf_req_query(r, "status");
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    if (status != NULL && strcmp(status, "unsigned") != 0 && strcmp(status, "published") != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "status", "status is unsigned or published");
    }
    const char *p[6] = {
        gf_req_param(r, "project_id"), name, status, pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_bundle_list, p, &pg);
}

enum gf_err gf_h_bundles_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "bundle_id")};

    return gf_reply_row(r, &gf_q_bundle_get, p, 200, "bundle");
}

/* The signed envelope of a bundle row from gf_q_bundle_signed (columns 1..3). */
enum gf_err gf_h_bundles_manifest(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "bundle_id")};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    char *env = NULL;
    size_t len = 0;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    if ((err = gf_db_exec(db, &gf_q_bundle_signed, p, &res)) != GF_OK) {
        return gf_req_db_fail(r, err, "bundle", NULL);
    }
    if (PQntuples(res) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such bundle");
    } else if (strcmp(PQgetvalue(res, 0, 0), "published") != 0) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "",
                          "the bundle is waiting for its offline "
                          "signature (unsigned_manifest in GET /bundles/{id})");
    } else if ((err = gf_bundle_envelope(res, &env, &len)) == GF_OK) {
        err = gf_req_reply_owned(r, 200, "application/json", env, len);
        env = NULL;
    }
    gf_free(env);
    PQclear(res);
    return err;
}

enum gf_err gf_h_bundles_sign(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"key_id", GF_JSON_STRING, 1, 0, GF_KEY_ID_LEN, GF_KEY_ID_LEN, 0, 0},
        {"signature", GF_JSON_STRING, 1, 0, 2 * GF_SIG_LEN, 2 * GF_SIG_LEN, 0, 0},
    };
    const char *id = gf_req_param(r, "bundle_id");
    const char *p[1] = {id};
    enum gf_reject reason = GF_REJECT_NONE;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, 2, &body);

    if (err != GF_OK) {
        return err;
    }
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_bundle_signed, p, &res)) != GF_OK) {
        goto out;
    }
    if (PQntuples(res) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such bundle");
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "unsigned") != 0) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "", "the bundle is already signed");
        goto out;
    }
    const char *key_id = gf_json_str(body, "key_id"), *sig = gf_json_str(body, "signature");
    const char *manifest = PQgetvalue(res, 0, 1);
    if (gf_trustroot_verify(db, PQgetvalue(res, 0, 4), key_id, sig, manifest, strlen(manifest),
                            &reason) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_UNPROCESSABLE,
                          reason == GF_REJECT_UNKNOWN_KEY ? "/key_id" : "/signature",
                          "signature refused (%s): it must be an Ed25519 signature of the exact "
                          "unsigned_manifest bytes by an active key of the project",
                          gf_reject_str(reason));
        goto out;
    }
    const char *sp[3] = {id, key_id, sig};
    PGresult *upd = NULL;
    if ((err = gf_db_exec(db, &gf_q_bundle_sign, sp, &upd)) != GF_OK) {
        goto out;
    }
    int changed = strcmp(PQcmdTuples(upd), "1") == 0;
    PQclear(upd);
    if (!changed) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "", "the bundle was signed meanwhile");
        goto out;
    }
    gf_req_audit_object(r, id);
    gf_req_audit_detail(r, json_pack("{s:s}", "key_id", key_id));
    err = gf_reply_row(r, &gf_q_bundle_get, p, 200, "bundle");
out:
    PQclear(res);
    json_decref(body);
    return err;
}
