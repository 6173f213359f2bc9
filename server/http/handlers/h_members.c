/* SPDX-License-Identifier: Apache-2.0
 *
 * h_members.c - /api/v1/tenants/{tenant_id}/members: who belongs to a tenant and with
 * which role. Admins manage members; only owners grant, change or remove the owner role;
 * the last owner can never be removed or demoted (409). Removing a member revokes the API
 * tokens they held for the tenant.
 */
#include "handlers.h"

#include "../../store/q_tenants.h"
#include "../../store/q_users.h"
#include "../respond.h"
#include "ids.h"
#include "gf_limits.h"

#include <string.h>

enum gf_err gf_h_members_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[4] = {gf_req_tenant(r), pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_member_list, p, &pg);
}

static enum gf_err parse_role(struct gf_req *r, const json_t *body, enum gf_role *out)
{
    enum gf_role role = gf_role_parse(gf_json_str(body, "role"));

    if (role == GF_ROLE_NONE) {
        return gf_req_fail(r, GF_ERR_INVAL, "/role",
                           "/role must be one of viewer, operator, admin, owner");
    }
    if (role == GF_ROLE_OWNER && gf_req_role(r) < GF_ROLE_OWNER) {
        return gf_req_fail(r, GF_ERR_PERM, "/role", "only an owner can grant the owner role");
    }
    *out = role;
    return GF_OK;
}

/* Resolve the user to add from {email} or {user_id}. */
static enum gf_err find_user(struct gf_req *r, struct gf_dbconn *db, const json_t *body,
                             char *id, size_t cap)
{
    const char *email = gf_json_str(body, "email");
    const char *uid = gf_json_str(body, "user_id");
    PGresult *res = NULL;
    enum gf_err err;

    if ((email == NULL) == (uid == NULL)) {
        return gf_req_fail(r, GF_ERR_INVAL, "/email", "give exactly one of /email or /user_id");
    }
    if (uid != NULL && !gf_uuid_valid(uid)) {
        return gf_req_fail(r, GF_ERR_INVAL, "/user_id", "/user_id must be a UUID");
    }
    const char *p[2] = {email, uid};
    err = gf_db_exec(db, &gf_q_user_find, p, &res);
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "user", NULL);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_INVAL, email ? "/email" : "/user_id",
                           "no user with this %s; a server admin creates users first",
                           email ? "e-mail" : "id");
    }
    snprintf(id, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return GF_OK;
}

enum gf_err gf_h_members_add(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"email", GF_JSON_STRING, 0, 0, 3, GF_LIMIT_EMAIL_CHARS, 0, 0},
        {"user_id", GF_JSON_STRING, 0, 0, 36, 36, 0, 0},
        {"role", GF_JSON_STRING, 1, 0, 1, 16, 0, 0},
    };
    struct gf_dbconn *db;
    json_t *body = NULL;
    enum gf_role role = GF_ROLE_NONE;
    char uid[40];
    enum gf_err err = gf_req_json(r, fields, 3, &body);

    if (err == GF_OK) {
        err = parse_role(r, body, &role);
    }
    if (err == GF_OK) {
        err = gf_req_db(r, &db);
    }
    if (err == GF_OK) {
        err = find_user(r, db, body, uid, sizeof(uid));
    }
    if (err == GF_OK) {
        const char *p[3] = {gf_req_tenant(r), uid, gf_role_name(role)};
        gf_req_audit_object(r, uid);
        gf_req_audit_detail(r, json_pack("{s:s}", "role", gf_role_name(role)));
        err = gf_reply_row(r, &gf_q_member_add, p, 201, "membership");
        if (err == GF_ERR_EXISTS) {
            err = gf_req_fail(r, err, "/email", "this user is already a member");
        }
    }
    json_decref(body);
    return err;
}

/* Lock the member row and the owner rows; refuse touching owners without being one, and
 * leaving the tenant without an owner. new_role GF_ROLE_NONE = removal. */
static enum gf_err guard_owner_change(struct gf_req *r, struct gf_dbconn *db, enum gf_role new_role)
{
    const char *p[2] = {gf_req_tenant(r), gf_req_param(r, "user_id")};
    PGresult *res = NULL;
    enum gf_err err = gf_db_exec(db, &gf_q_member_lock, p, &res);

    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "membership", NULL);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such member");
    }
    enum gf_role current = gf_role_parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (current == GF_ROLE_OWNER && gf_req_role(r) < GF_ROLE_OWNER) {
        return gf_req_fail(r, GF_ERR_PERM, "", "only an owner can change or remove an owner");
    }
    if (current != GF_ROLE_OWNER || new_role == GF_ROLE_OWNER) {
        return GF_OK;
    }
    err = gf_db_exec(db, &gf_q_member_owners, p, &res);
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "membership", NULL);
    }
    long owners = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (owners <= 1) {
        return gf_req_fail(r, GF_ERR_CONFLICT, "",
                           "a tenant must keep at least one owner; add another owner first");
    }
    return GF_OK;
}

enum gf_err gf_h_members_update(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"role", GF_JSON_STRING, 1, 0, 1, 16, 0, 0},
    };
    struct gf_dbconn *db;
    json_t *body = NULL;
    enum gf_role role = GF_ROLE_NONE;
    enum gf_err err = gf_req_json(r, fields, 1, &body);

    if (err == GF_OK) {
        err = parse_role(r, body, &role);
    }
    if (err == GF_OK) {
        err = gf_req_db(r, &db);
    }
    if (err == GF_OK) {
        err = guard_owner_change(r, db, role);
    }
    if (err == GF_OK) {
        const char *p[3] = {gf_req_tenant(r), gf_req_param(r, "user_id"), gf_role_name(role)};
        gf_req_audit_detail(r, json_pack("{s:s}", "role", gf_role_name(role)));
        err = gf_reply_row(r, &gf_q_member_set_role, p, 200, "member");
    }
    json_decref(body);
    return err;
}

enum gf_err gf_h_members_remove(struct gf_req *r)
{
    const char *p[2] = {gf_req_tenant(r), gf_req_param(r, "user_id")};
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err == GF_OK) {
        err = guard_owner_change(r, db, GF_ROLE_NONE);
    }
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_member_remove, p, NULL);
        if (err == GF_OK) {
            err = gf_db_exec(db, &gf_q_member_revoke_tokens, p, NULL);
        }
        if (err != GF_OK) {
            return gf_req_db_fail(r, err, "member", NULL);
        }
        gf_req_reply_empty(r, 204);
    }
    return err;
}
