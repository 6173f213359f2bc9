/* SPDX-License-Identifier: Apache-2.0
 *
 * h_etokens.c - /api/v1/projects/{project_id}/enrollment-tokens and
 * /api/v1/enrollment-tokens/{enrollment_token_id}: the secrets station installers put in an
 * agent's config so it can enroll into a project. A token is "gfe_" + 40 base64url
 * characters; only its SHA-256 is stored and the secret is in the 201 answer only. Options:
 * default labels for the nodes it enrolls, auto-accept (else nodes wait as pending), a
 * maximum number of uses and an expiry. DELETE revokes (the row stays for the audit trail).
 */
#include "handlers.h"

#include "../../store/q_enroll.h"
#include "../respond.h"
#include "gf_limits.h"
#include "ids.h"
#include "selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETOKEN_PREFIX "gfe_"

enum gf_err gf_h_etokens_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[4] = {gf_req_param(r, "project_id"), pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_etoken_list, p, &pg);
}

enum gf_err gf_h_etokens_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 0, 1, 0, GF_LIMIT_NAME_CHARS, 0, 0},
        {"default_labels", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"auto_accept", GF_JSON_BOOL, 0, 1, 0, 0, 0, 0},
        {"max_uses", GF_JSON_INT, 0, 1, 0, 0, 1, 1000000},
        {"expires_at", GF_JSON_STRING, 0, 1, 1, 40, 0, 0},
    };
    char secret[64], hash[GF_SHA256_HEX_LEN + 1], prefix[16], max_uses[24];
    struct gf_diag d;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    char *labels = NULL;
    enum gf_err err = gf_req_json(r, fields, sizeof(fields) / sizeof(fields[0]), &body);

    if (err != GF_OK) {
        return err;
    }
    json_t *dl = json_object_get(body, "default_labels");
    if (dl != NULL && !json_is_null(dl) && gf_labels_check(dl, "/default_labels", &d) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, d.where, "%s", d.msg);
        goto out;
    }
    if ((err = gf_req_check_expiry(r, "/expires_at", gf_json_str(body, "expires_at"))) != GF_OK ||
        (err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    if (dl != NULL && !json_is_null(dl) && (labels = json_dumps(dl, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    gf_secret_token(ETOKEN_PREFIX, secret, sizeof(secret), prefix, sizeof(prefix), hash,
                    sizeof(hash));
    snprintf(max_uses, sizeof(max_uses), "%lld", gf_json_int(body, "max_uses", 0));
    const char *p[9] = {gf_req_param(r, "project_id"),
                        gf_json_str(body, "name"),
                        hash,
                        prefix,
                        labels,
                        gf_json_bool(body, "auto_accept", 0) ? "true" : "false",
                        gf_json_int(body, "max_uses", 0) > 0 ? max_uses : NULL,
                        gf_json_str(body, "expires_at"),
                        gf_req_who(r)->user_id[0] ? gf_req_who(r)->user_id : NULL};
    if ((err = gf_db_exec(db, &gf_q_etoken_create, p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "enrollment token", NULL);
        goto out;
    }
    json_t *tok = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (tok == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(tok, "secret", json_string(secret));
    gf_req_audit_object(r, PQgetvalue(res, 0, 1));
    gf_req_audit_detail(r, json_pack("{s:s, s:b}", "prefix", prefix, "auto_accept",
                                     gf_json_bool(body, "auto_accept", 0)));
    err = gf_req_reply_json(r, 201, tok);
out:
    free(labels);
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_etokens_delete(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "enrollment_token_id")};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    if ((err = gf_db_exec(db, &gf_q_etoken_revoke, p, &res)) != GF_OK) {
        return gf_req_db_fail(r, err, "enrollment token", NULL);
    }
    int revoked = PQntuples(res) == 1;
    PQclear(res);
    if (!revoked) {
        return gf_req_fail(r, GF_ERR_CONFLICT, "", "the enrollment token is already revoked");
    }
    gf_req_reply_empty(r, 204);
    return GF_OK;
}
