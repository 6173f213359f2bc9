/* SPDX-License-Identifier: Apache-2.0
 *
 * h_tokens.c - /api/v1/tokens: API tokens for scripts. A token is "gft_" + 40 random
 * base64url characters (240 bits); only its SHA-256 is stored, the secret is in the 201
 * answer and nowhere else. Each token is scoped to one tenant and a role no higher than its
 * creator's role there; it expires (default token_default_ttl, at most one year) and can
 * be revoked. Managing tokens needs an interactive session, so a leaked token cannot mint
 * more tokens.
 */
#include "handlers.h"

#include "../../core/app.h"
#include "../../store/q_tokens.h"
#include "../auth.h"
#include "../respond.h"
#include "ids.h"
#include "gf_limits.h"
#include "timefmt.h"

#include <stdio.h>
#include <string.h>

enum gf_err gf_h_tokens_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[4] = {gf_req_who(r)->user_id, pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_token_list, p, &pg);
}

/* The caller's role in tenant (owner for server admins); NONE when not a member or no
 * such tenant. */
static enum gf_err caller_role(struct gf_req *r, struct gf_dbconn *db, const char *tenant,
                               enum gf_role *out)
{
    const char *p[2] = {tenant, gf_req_who(r)->user_id};
    PGresult *res = NULL;
    enum gf_err err = gf_db_exec(db, &gf_q_membership_role, p, &res);

    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "membership", NULL);
    }
    *out = PQntuples(res) == 1 ? gf_role_parse(PQgetvalue(res, 0, 0)) : GF_ROLE_NONE;
    PQclear(res);
    return GF_OK;
}

enum gf_err gf_h_tokens_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
        {"tenant_id", GF_JSON_STRING, 1, 0, 36, 36, 0, 0},
        {"role", GF_JSON_STRING, 1, 0, 1, 16, 0, 0},
        {"expires_at", GF_JSON_STRING, 0, 1, 1, 40, 0, 0},
    };
    char secret[64], hash[GF_SHA256_HEX_LEN + 1], prefix[16], ttl[24];
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    enum gf_role have = GF_ROLE_NONE;
    enum gf_err err = gf_req_json(r, fields, 4, &body);

    if (err != GF_OK) {
        return err;
    }
    const char *tenant = gf_json_str(body, "tenant_id");
    enum gf_role want = gf_role_parse(gf_json_str(body, "role"));
    if (!gf_uuid_valid(tenant)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/tenant_id", "/tenant_id must be a UUID");
    } else if (want == GF_ROLE_NONE) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/role",
                          "/role must be one of viewer, operator, admin, owner");
    } else {
        err = gf_req_check_expiry(r, "/expires_at", gf_json_str(body, "expires_at"));
    }
    if (err == GF_OK && (err = gf_req_db(r, &db)) == GF_OK) {
        err = caller_role(r, db, tenant, &have);
    }
    if (err != GF_OK) {
        goto out;
    }
    if (have == GF_ROLE_NONE) {
        /* Same answer for "no such tenant" and "not yours". */
        err = gf_req_fail(r, GF_ERR_UNPROCESSABLE, "/tenant_id", "no such tenant");
        goto out;
    }
    if (want > have) {
        err = gf_req_fail(r, GF_ERR_PERM, "/role",
                          "a token cannot have a higher role than yours (%s)", gf_role_name(have));
        goto out;
    }
    gf_secret_token(GF_TOKEN_PREFIX, secret, sizeof(secret), prefix, sizeof(prefix), hash,
                    sizeof(hash));
    snprintf(ttl, sizeof(ttl), "%ld", gf_req_app(r)->cfg.token_default_ttl);
    const char *p[8] = {gf_req_who(r)->user_id, tenant, gf_json_str(body, "name"), prefix,
                        hash, gf_role_name(want), gf_json_str(body, "expires_at"), ttl};
    err = gf_db_exec(db, &gf_q_token_create, p, &res);
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "token", NULL);
        goto out;
    }
    json_t *tok = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (tok == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(tok, "secret", json_string(secret));
    gf_req_audit_object(r, PQgetvalue(res, 0, 1));
    gf_req_audit_tenant(r, tenant);
    gf_req_audit_detail(r, json_pack("{s:s, s:s}", "prefix", prefix, "role", gf_role_name(want)));
    err = gf_req_reply_json(r, 201, tok);
out:
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_tokens_delete(struct gf_req *r)
{
    const struct gf_principal *w = gf_req_who(r);
    const char *p[3] = {gf_req_param(r, "token_id"), w->user_id, w->is_admin ? "true" : "false"};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    err = gf_db_exec(db, &gf_q_token_revoke, p, &res);
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "token", NULL);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such token");
    }
    gf_req_audit_tenant(r, PQgetvalue(res, 0, 0));
    PQclear(res);
    gf_req_reply_empty(r, 204);
    return GF_OK;
}
