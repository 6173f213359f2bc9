/* SPDX-License-Identifier: Apache-2.0
 *
 * h_users.c - /api/v1/users: accounts, managed by server admins. A password is generated
 * (and shown once in the 201 answer) when none is given. Changing a password or disabling
 * an account ends its sessions. An admin cannot disable, demote or delete themselves (so
 * the server cannot lose its last way in by accident), nor delete a tenant's last owner
 * (409, as when removing that member).
 */
#include "handlers.h"

#include "../../core/password.h"
#include "../../store/q_users.h"
#include "../respond.h"
#include "gf_limits.h"

#include <string.h>

enum gf_err gf_h_users_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[3] = {pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_user_list, p, &pg);
}

static int email_ok(const char *e)
{
    const char *at = strchr(e, '@');

    return at != NULL && at != e && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
           strpbrk(e, " \t\r\n<>\"") == NULL;
}

enum gf_err gf_h_users_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"email", GF_JSON_STRING, 1, 0, 3, GF_LIMIT_EMAIL_CHARS, 0, 0},
        {"name", GF_JSON_STRING, 0, 1, 0, GF_LIMIT_NAME_CHARS, 0, 0},
        {"password", GF_JSON_STRING, 0, 1, 0, GF_LIMIT_PASSWORD_MAX, 0, 0},
        {"is_admin", GF_JSON_BOOL, 0, 1, 0, 0, 0, 0},
    };
    char generated[32], hash[GF_PASSWORD_HASH_MAX];
    struct gf_diag diag;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, 4, &body);

    if (err != GF_OK) {
        return err;
    }
    const char *email = gf_json_str(body, "email");
    const char *pw = gf_json_str(body, "password");
    if (!email_ok(email)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/email", "/email is not an e-mail address");
        goto out;
    }
    if (pw != NULL && gf_password_check(pw, "/password", &diag) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, diag.where, "%s", diag.msg);
        goto out;
    }
    if (pw == NULL) {
        gf_password_generate(generated, sizeof(generated));
        pw = generated;
    }
    if ((err = gf_password_hash(pw, hash, sizeof(hash))) != GF_OK ||
        (err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *is_admin = gf_json_bool(body, "is_admin", 0) ? "true" : "false";
    const char *p[4] = {email, gf_json_str(body, "name"), hash, is_admin};
    err = gf_db_exec(db, &gf_q_user_create, p, &res);
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "a user with this e-mail", "/email");
        goto out;
    }
    json_t *user = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (user == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if (pw == generated) {
        json_object_set_new(user, "password", json_string(generated));
    }
    gf_req_audit_object(r, PQgetvalue(res, 0, 2));
    gf_req_audit_detail(r, json_pack("{s:s, s:b}", "email", email, "is_admin",
                                     gf_json_bool(body, "is_admin", 0)));
    err = gf_req_reply_json(r, 201, user);
out:
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_users_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "user_id")};

    return gf_reply_row(r, &gf_q_user_get, p, 200, "user");
}

enum gf_err gf_h_users_update(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 0, 0, 0, GF_LIMIT_NAME_CHARS, 0, 0},
        {"password", GF_JSON_STRING, 0, 0, 0, GF_LIMIT_PASSWORD_MAX, 0, 0},
        {"is_admin", GF_JSON_BOOL, 0, 0, 0, 0, 0, 0},
        {"disabled", GF_JSON_BOOL, 0, 0, 0, 0, 0, 0},
    };
    const char *id = gf_req_param(r, "user_id");
    char hash[GF_PASSWORD_HASH_MAX];
    struct gf_diag diag;
    struct gf_dbconn *db;
    const char *version;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, 4, &body);

    if (err != GF_OK || (err = gf_req_if_match(r, &version)) != GF_OK) {
        goto out;
    }
    const char *pw = gf_json_str(body, "password");
    int self = strcmp(id, gf_req_who(r)->user_id) == 0;
    if (self && (gf_json_bool(body, "disabled", 0) || !gf_json_bool(body, "is_admin", 1))) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "", "you cannot disable or demote yourself");
        goto out;
    }
    if (pw != NULL && gf_password_check(pw, "/password", &diag) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, diag.where, "%s", diag.msg);
        goto out;
    }
    if ((pw != NULL && (err = gf_password_hash(pw, hash, sizeof(hash))) != GF_OK) ||
        (err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *adm = gf_json_has(body, "is_admin")
                          ? (gf_json_bool(body, "is_admin", 0) ? "true" : "false")
                          : NULL;
    const char *dis = gf_json_has(body, "disabled")
                          ? (gf_json_bool(body, "disabled", 0) ? "true" : "false")
                          : NULL;
    const char *p[6] = {id, gf_json_str(body, "name"), pw ? hash : NULL, adm, dis, version};
    err = gf_reply_row(r, &gf_q_user_update, p, 200, "user");
    if (err == GF_ERR_NOTFOUND && version != NULL) {
        err = gf_req_fail(r, GF_ERR_PRECONDITION, "If-Match",
                          "the user was changed by someone else, or does not exist");
    }
    if (err == GF_OK && (pw != NULL || (dis && dis[0] == 't'))) {
        const char *sp[1] = {id};
        err = gf_db_exec(db, &gf_q_user_drop_sessions, sp, NULL);
    }
    gf_req_audit_detail(r, json_pack("{s:b, s:o?, s:o?}", "password_changed", pw != NULL,
                                     "is_admin", adm ? json_boolean(adm[0] == 't') : NULL,
                                     "disabled", dis ? json_boolean(dis[0] == 't') : NULL));
out:
    json_decref(body);
    return err;
}

enum gf_err gf_h_users_delete(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "user_id")};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err;

    if (strcmp(p[0], gf_req_who(r)->user_id) == 0) {
        return gf_req_fail(r, GF_ERR_CONFLICT, "", "you cannot delete yourself");
    }
    if ((err = gf_req_db(r, &db)) != GF_OK) {
        return err;
    }
    /* A tenant keeps an owner: the last one is refused, as when removing the member. */
    if ((err = gf_db_exec(db, &gf_q_user_sole_owner, p, &res)) != GF_OK) {
        return gf_req_db_fail(r, err, "user", NULL);
    }
    if (PQntuples(res) > 0) {
        char slugs[400] = "";
        size_t used = 0;
        for (int i = 0; i < PQntuples(res) && used < sizeof(slugs); i++) {
            int n = snprintf(slugs + used, sizeof(slugs) - used, "%s%s", i ? ", " : "",
                             PQgetvalue(res, i, 0));
            used += n > 0 ? (size_t)n : 0;
        }
        PQclear(res);
        return gf_req_fail(r, GF_ERR_CONFLICT, "",
                           "the user is the last owner of tenant %s: make another member owner "
                           "first",
                           slugs);
    }
    PQclear(res);
    err = gf_db_exec(db, &gf_q_user_delete, p, &res);
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "user", NULL);
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        return gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such user");
    }
    gf_req_reply_empty(r, 204);
    return GF_OK;
}
