/* SPDX-License-Identifier: Apache-2.0
 *
 * h_tenants.c - /api/v1/tenants: list the tenants the caller can see, create (server
 * admins; the creator becomes owner), read, rename, delete (cascades to projects,
 * memberships and tokens).
 */
#include "handlers.h"

#include "../../store/q_tenants.h"
#include "../respond.h"
#include "gf_limits.h"

#include <string.h>

enum gf_err gf_h_tenants_list(struct gf_req *r)
{
    const struct gf_principal *w = gf_req_who(r);
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    int all = w->kind == GF_AUTH_SESSION && w->is_admin;
    const char *p[6] = {all ? "true" : "false",
                        w->user_id,
                        w->kind == GF_AUTH_TOKEN ? w->token_tenant : NULL,
                        pg.cursor_us,
                        pg.cursor_id,
                        pg.fetch};
    return gf_reply_list(r, &gf_q_tenant_list, p, &pg);
}

static int slug_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > GF_LIMIT_SLUG_CHARS || s[0] == '-' || s[n - 1] == '-') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
            return 0;
        }
    }
    return 1;
}

enum gf_err gf_h_tenants_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
        {"slug", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_SLUG_CHARS, 0, 0},
    };
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, 2, &body);

    if (err != GF_OK) {
        return err;
    }
    if (!slug_ok(gf_json_str(body, "slug"))) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/slug",
                          "/slug must be lower-case letters, digits and inner hyphens");
        goto out;
    }
    if ((err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *p[2] = {gf_json_str(body, "name"), gf_json_str(body, "slug")};
    err = gf_db_exec(db, &gf_q_tenant_create, p, &res);
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "a tenant with this slug", "/slug");
        goto out;
    }
    const char *id = PQgetvalue(res, 0, 2);
    const char *mp[3] = {id, gf_req_who(r)->user_id, "owner"};
    err = gf_db_exec(db, &gf_q_member_add, mp, NULL);
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "membership", NULL);
        goto out;
    }
    gf_req_audit_object(r, id);
    gf_req_audit_tenant(r, id);
    gf_req_audit_detail(r, json_pack("{s:s}", "slug", gf_json_str(body, "slug")));
    err = gf_reply_result(r, res, 201);
out:
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_tenants_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_tenant(r)};

    return gf_reply_row(r, &gf_q_tenant_get, p, 200, "tenant");
}

enum gf_err gf_h_tenants_update(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 0, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
    };
    const char *version;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, 1, &body);

    if (err == GF_OK) {
        err = gf_req_if_match(r, &version);
    }
    if (err == GF_OK) {
        const char *p[3] = {gf_req_tenant(r), gf_json_str(body, "name"), version};
        err = gf_reply_row(r, &gf_q_tenant_update, p, 200, "tenant");
        if (err == GF_ERR_NOTFOUND) {
            /* The scope check proved the tenant exists: only the version can differ. */
            err = gf_req_fail(r, GF_ERR_PRECONDITION, "If-Match",
                              "the tenant was changed by someone else; read it again");
        }
    }
    json_decref(body);
    return err;
}

enum gf_err gf_h_tenants_delete(struct gf_req *r)
{
    const char *p[1] = {gf_req_tenant(r)};

    return gf_reply_exec(r, &gf_q_tenant_delete, p, "tenant");
}
