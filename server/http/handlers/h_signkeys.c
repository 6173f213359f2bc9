/* SPDX-License-Identifier: Apache-2.0
 *
 * h_signkeys.c - /api/v1/projects/{project_id}/signing-keys, /signing-keys/{id}/retire and
 * /projects/{project_id}/trust: a project's bundle-signing keys and its trust root
 * (bundles/trustroot.h). POST without public_key makes a server-held key (its secret sealed
 * with the master key, never returned); with public_key (64 hex) it registers an operator's
 * offline key, whose secret the server never sees. Adding or retiring a key is the next
 * trust statement, signed by the old root; when that root has only offline keys the
 * statement waits (202) until POST /projects/{id}/trust/signature brings the signature.
 */
#include "handlers.h"

#include "../../bundles/trustroot.h"
#include "../../core/app.h"
#include "../../store/q_bundles.h"
#include "../respond.h"
#include "alloc.h"
#include "gf_limits.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

enum gf_err gf_h_signkeys_list(struct gf_req *r)
{
    const char *state = gf_req_query(r, "state");
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    if (state != NULL && strcmp(state, "pending") != 0 && strcmp(state, "active") != 0 &&
        strcmp(state, "retired") != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "state", "state is pending, active or retired");
    }
    const char *p[5] = {gf_req_param(r, "project_id"), state, pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_key_list, p, &pg);
}

/* Answer the key row with the outcome of its trust change. */
static enum gf_err reply_key(struct gf_req *r, struct gf_dbconn *db, const char *id,
                             unsigned status, uint64_t seq, int is_signed)
{
    const char *p[1] = {id};
    PGresult *res = NULL;
    enum gf_err err = gf_db_exec(db, &gf_q_key_get, p, &res);

    if (err != GF_OK) {
        return err;
    }
    json_t *key = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    if (key == NULL) {
        return GF_ERR_INTERNAL;
    }
    json_object_set_new(key, "trust_seq", json_integer((json_int_t)seq));
    json_object_set_new(key, "trust_pending", json_boolean(!is_signed));
    return gf_req_reply_json(r, is_signed ? status : 202, key);
}

enum gf_err gf_h_signkeys_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
        {"public_key", GF_JSON_STRING, 0, 1, 2 * GF_PUBKEY_LEN, 2 * GF_PUBKEY_LEN, 0, 0},
    };
    const char *project = gf_req_param(r, "project_id");
    const char *user = gf_req_who(r)->user_id[0] ? gf_req_who(r)->user_id : NULL;
    char key_id[GF_KEY_ID_LEN + 1];
    unsigned char pk[GF_PUBKEY_LEN];
    struct gf_diag d;
    struct gf_dbconn *db;
    PGresult *row = NULL;
    json_t *body = NULL;
    uint64_t seq = 0;
    int is_signed = 0;
    enum gf_err err = gf_req_json(r, fields, 2, &body);

    if (err != GF_OK) {
        return err;
    }
    gf_diag_clear(&d);
    const char *pk_hex = gf_json_str(body, "public_key"), *name = gf_json_str(body, "name");
    if (pk_hex != NULL && gf_pubkey_parse(pk_hex, pk) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/public_key",
                          "/public_key must be an Ed25519 public "
                          "key as 64 hex characters");
        goto out;
    }
    if ((err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    if (pk_hex != NULL) {
        gf_key_id(pk, key_id, sizeof(key_id));
        const char *p[6] = {project, key_id, pk_hex, NULL, name, user};
        err = gf_db_exec(db, &gf_q_key_insert, p, &row);
    } else {
        err = gf_trustroot_new_server_key(db, gf_req_app(r)->master_key, project, name, user,
                                          key_id, &row);
    }
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "signing key", "/public_key");
        goto out;
    }
    if ((err = gf_trustroot_change(db, gf_req_app(r)->master_key, project, NULL, key_id, &seq,
                                   &is_signed, &d)) != GF_OK) {
        err = gf_req_fail(r, err, d.where, "%s", d.msg[0] ? d.msg : "cannot change the trust root");
        goto out;
    }
    gf_req_audit_object(r, PQgetvalue(row, 0, 1));
    gf_req_audit_detail(r, json_pack("{s:s, s:s, s:I, s:b}", "key_id", key_id, "kind",
                                     pk_hex ? "offline" : "server", "trust_seq", (json_int_t)seq,
                                     "trust_pending", !is_signed));
    err = reply_key(r, db, PQgetvalue(row, 0, 1), 201, seq, is_signed);
out:
    PQclear(row);
    json_decref(body);
    return err;
}

enum gf_err gf_h_signkeys_retire(struct gf_req *r)
{
    const char *id = gf_req_param(r, "signing_key_id");
    const char *p[1] = {id};
    struct gf_diag d;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    uint64_t seq = 0;
    int is_signed = 0;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    gf_diag_clear(&d);
    if ((err = gf_db_exec(db, &gf_q_key_get, p, &res)) != GF_OK) {
        return gf_req_db_fail(r, err, "signing key", NULL);
    }
    if (PQntuples(res) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such signing key");
    } else if (strcmp(PQgetvalue(res, 0, 3), "active") != 0) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "",
                          "only an active key can be retired (this one "
                          "is %s)",
                          PQgetvalue(res, 0, 3));
    } else if ((err = gf_trustroot_change(db, gf_req_app(r)->master_key, PQgetvalue(res, 0, 1),
                                          PQgetvalue(res, 0, 2), NULL, &seq, &is_signed, &d)) !=
               GF_OK) {
        err = gf_req_fail(r, err, d.where, "%s", d.msg[0] ? d.msg : "cannot change the trust root");
    } else {
        gf_req_audit_detail(r,
                            json_pack("{s:s, s:I, s:b}", "key_id", PQgetvalue(res, 0, 2),
                                      "trust_seq", (json_int_t)seq, "trust_pending", !is_signed));
        err = reply_key(r, db, id, 200, seq, is_signed);
    }
    PQclear(res);
    return err;
}

/* {"seq", "statement" (envelope of the newest signed), "pending": {"seq", "statement"
 * (base64 of the bytes to sign)} or null} */
enum gf_err gf_h_trust_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "project_id")};
    struct gf_dbconn *db;
    PGresult *cur = NULL, *pend = NULL;
    json_t *out = json_pack("{s:n, s:n, s:n}", "seq", "statement", "pending");
    char *env = NULL, *b64 = NULL;
    size_t len = 0;
    enum gf_err err = out ? gf_req_db(r, &db) : GF_ERR_NOMEM;

    if (err != GF_OK || (err = gf_db_exec(db, &gf_q_trust_current, p, &cur)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_trust_pending, p, &pend)) != GF_OK) {
        goto out;
    }
    if (PQntuples(cur) == 1) {
        const char *text = PQgetvalue(cur, 0, 1);
        if ((err = gf_trustroot_envelope(text, strlen(text), PQgetvalue(cur, 0, 2),
                                         PQgetvalue(cur, 0, 3), &env, &len)) != GF_OK) {
            goto out;
        }
        json_object_set_new(out, "seq", json_integer(strtoll(PQgetvalue(cur, 0, 0), NULL, 10)));
        json_object_set_new(out, "statement", json_loadb(env, len, 0, NULL));
    }
    if (PQntuples(pend) == 1) {
        const char *text = PQgetvalue(pend, 0, 1);
        size_t tl = strlen(text),
               cap = sodium_base64_ENCODED_LEN(tl, sodium_base64_VARIANT_ORIGINAL);
        if ((b64 = gf_malloc(cap)) == NULL) {
            err = GF_ERR_NOMEM;
            goto out;
        }
        sodium_bin2base64(b64, cap, (const unsigned char *)text, tl,
                          sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(out, "pending",
                            json_pack("{s:I, s:s}", "seq",
                                      (json_int_t)strtoll(PQgetvalue(pend, 0, 0), NULL, 10),
                                      "statement", b64));
    }
    err = gf_req_reply_json(r, 200, out);
    out = NULL;
out:
    json_decref(out);
    gf_free(env);
    gf_free(b64);
    PQclear(cur);
    PQclear(pend);
    return err;
}

enum gf_err gf_h_trust_sign(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"key_id", GF_JSON_STRING, 1, 0, GF_KEY_ID_LEN, GF_KEY_ID_LEN, 0, 0},
        {"signature", GF_JSON_STRING, 1, 0, 2 * GF_SIG_LEN, 2 * GF_SIG_LEN, 0, 0},
    };
    const char *project = gf_req_param(r, "project_id");
    enum gf_reject reason;
    struct gf_diag d;
    struct gf_dbconn *db;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, 2, &body);

    if (err != GF_OK) {
        return err;
    }
    gf_diag_clear(&d);
    if ((err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    err = gf_trustroot_sign_pending(db, project, gf_json_str(body, "key_id"),
                                    gf_json_str(body, "signature"), &reason, &d);
    if (err != GF_OK) {
        err = gf_req_fail(r, err == GF_ERR_CRYPTO ? GF_ERR_UNPROCESSABLE : err, d.where, "%s",
                          d.msg[0] ? d.msg : "cannot sign the trust statement");
        goto out;
    }
    gf_req_audit_object(r, project);
    gf_req_audit_detail(r, json_pack("{s:s}", "key_id", gf_json_str(body, "key_id")));
    err = gf_h_trust_get(r);
out:
    json_decref(body);
    return err;
}
