/* SPDX-License-Identifier: Apache-2.0
 *
 * h_auth.c - /api/v1/auth: password login (argon2id) creating a server-side session and
 * an HttpOnly SameSite=Strict cookie, logout, and "who am I". Login counts failures per
 * account and per source address in PostgreSQL (shared by all replicas) and answers 429
 * with Retry-After once either passes its limit. Unknown e-mails and wrong passwords get
 * the same answer in the same time. Passwords are never logged or audited.
 */
#include "handlers.h"

#include "../../core/app.h"
#include "../../core/password.h"
#include "../../store/q_access.h"
#include "../../store/q_users.h"
#include "../auth.h"
#include "../respond.h"
#include "ids.h"
#include "gf_limits.h"

#include <stdio.h>
#include <string.h>

static const struct gf_json_field login_fields[] = {
    {"email", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_EMAIL_CHARS, 0, 0},
    {"password", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_PASSWORD_MAX, 0, 0},
};

/* Audit a login attempt on its own (autocommit) statement. */
static void audit_login(struct gf_req *r, struct gf_dbconn *db, const char *user_id,
                        const char *email, const char *outcome)
{
    const char *p[10] = {NULL,     user_id ? "user" : "anonymous", user_id, email,  "auth.login",
                         "user",   user_id ? user_id : "",         outcome, gf_req_source(r),
                         NULL};
    gf_db_exec(db, &gf_q_audit_insert, p, NULL);
}

static enum gf_err check_lock(struct gf_req *r, struct gf_dbconn *db, const char *email)
{
    const struct gf_server_config *cfg = &gf_req_app(r)->cfg;
    char window[24], max_acct[24], max_addr[24];
    PGresult *res = NULL;
    enum gf_err err;

    snprintf(window, sizeof(window), "%ld", cfg->login_window);
    snprintf(max_acct, sizeof(max_acct), "%ld", cfg->login_max_failures);
    snprintf(max_addr, sizeof(max_addr), "%ld", cfg->login_max_failures_per_address);
    const char *p[5] = {email, gf_req_source(r), window, max_acct, max_addr};
    err = gf_db_exec(db, &gf_q_login_locked, p, &res);
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "login", NULL);
    }
    if (PQntuples(res) == 1) {
        const char *secs = PQgetvalue(res, 0, 0);
        gf_req_add_header(r, "Retry-After", secs[0] && secs[0] != '-' ? secs : "1");
        PQclear(res);
        return gf_req_fail(r, GF_ERR_RATELIMIT, "",
                           "too many failed sign-ins; try again after Retry-After seconds");
    }
    PQclear(res);
    return GF_OK;
}

static void count_failure(struct gf_req *r, struct gf_dbconn *db, const char *email)
{
    char window[24];

    snprintf(window, sizeof(window), "%ld", gf_req_app(r)->cfg.login_window);
    const char *a[3] = {"account", email, window};
    const char *b[3] = {"address", gf_req_source(r), window};
    gf_db_exec(db, &gf_q_login_fail, a, NULL);
    gf_db_exec(db, &gf_q_login_fail, b, NULL);
}

/* Load a JSON text column of a one-row statement into a json_t (caller owns). */
static json_t *load_json(struct gf_dbconn *db, const struct gf_stmt *st, const char *arg)
{
    const char *p[1] = {arg};
    PGresult *res = NULL;
    json_t *v = NULL;

    if (gf_db_exec(db, st, p, &res) == GF_OK && PQntuples(res) == 1) {
        v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    }
    PQclear(res);
    return v;
}

/* {"user": {...}, "auth": "session"|"token", "csrf_token"?, "token"?, "memberships": [...]} */
static enum gf_err reply_me(struct gf_req *r, struct gf_dbconn *db, const char *user_id,
                            const char *auth, const char *csrf, unsigned status)
{
    const struct gf_principal *w = gf_req_who(r);
    json_t *user = load_json(db, &gf_q_user_get, user_id);
    json_t *members = load_json(db, &gf_q_user_memberships, user_id);
    json_t *out = json_object();

    if (user == NULL || members == NULL || out == NULL) {
        json_decref(user);
        json_decref(members);
        json_decref(out);
        return gf_req_fail(r, GF_ERR_UNAVAILABLE, "", "cannot load the account");
    }
    json_object_set_new(out, "user", user);
    json_object_set_new(out, "auth", json_string(auth));
    if (csrf != NULL) {
        json_object_set_new(out, "csrf_token", json_string(csrf));
    }
    if (w->kind == GF_AUTH_TOKEN) {
        json_object_set_new(out, "token",
                            json_pack("{s:s, s:s, s:s}", "id", w->token_id, "tenant_id",
                                      w->token_tenant, "role", gf_role_name(w->token_role)));
    }
    if (w->kind == GF_AUTH_TOKEN) {
        /* A token sees its own tenant only, not the rest of its user's memberships. */
        size_t i;
        json_t *m;
        json_t *only = json_array();
        json_array_foreach(members, i, m) {
            if (only != NULL && json_is_string(json_object_get(m, "tenant_id")) &&
                strcmp(json_string_value(json_object_get(m, "tenant_id")), w->token_tenant) == 0) {
                json_array_append(only, m);
            }
        }
        json_decref(members);
        members = only ? only : json_array();
    }
    json_object_set_new(out, "memberships", members);
    return gf_req_reply_json(r, status, out);
}

static enum gf_err start_session(struct gf_req *r, struct gf_dbconn *db, const char *user_id)
{
    struct gf_app *app = gf_req_app(r);
    char value[64], hash[GF_SHA256_HEX_LEN + 1], ttl[24], csrf[64], cookie[256];
    enum gf_err err;

    gf_random_b64url(value, sizeof(value), 32);
    gf_sha256_hex(hash, sizeof(hash), value, strlen(value));
    snprintf(ttl, sizeof(ttl), "%ld", app->cfg.session_ttl);
    const char *p[4] = {hash, user_id, gf_req_source(r), ttl};
    err = gf_db_exec(db, &gf_q_session_create, p, NULL);
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "session", NULL);
    }
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s",
             GF_SESSION_COOKIE, value, app->cfg.session_ttl, app->tls ? "; Secure" : "");
    gf_req_add_header(r, "Set-Cookie", cookie);
    gf_auth_csrf_token(app->master_key, value, csrf, sizeof(csrf));
    return reply_me(r, db, user_id, "session", csrf, 200);
}

enum gf_err gf_h_login(struct gf_req *r)
{
    json_t *body = NULL;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    char email_key[GF_LIMIT_EMAIL_CHARS + 1];
    enum gf_err err = gf_req_json(r, login_fields, 2, &body);

    if (err != GF_OK || (err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *email = gf_json_str(body, "email");
    const char *pw = gf_json_str(body, "password");
    size_t el = strlen(email);
    for (size_t i = 0; i <= el && i < sizeof(email_key); i++) {
        char c = email[i];
        email_key[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    email_key[sizeof(email_key) - 1] = '\0';
    if ((err = check_lock(r, db, email_key)) != GF_OK) {
        audit_login(r, db, NULL, email_key, "denied");
        goto out;
    }
    const char *p[1] = {email_key};
    err = gf_db_exec(db, &gf_q_user_for_login, p, &res);
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "login", NULL);
        goto out;
    }
    int found = PQntuples(res) == 1;
    int ok = gf_password_verify(found ? PQgetvalue(res, 0, 2) : NULL, pw);
    if (!ok || strcmp(PQgetvalue(res, 0, 3), "t") == 0 /* disabled */) {
        count_failure(r, db, email_key);
        audit_login(r, db, found ? PQgetvalue(res, 0, 0) : NULL, email_key, "denied");
        err = gf_req_fail(r, GF_ERR_AUTH, "", "wrong e-mail or password");
        goto out;
    }
    char user_id[40];
    snprintf(user_id, sizeof(user_id), "%s", PQgetvalue(res, 0, 0));
    gf_db_exec(db, &gf_q_login_clear, p, NULL);
    err = start_session(r, db, user_id);
    if (err == GF_OK) {
        audit_login(r, db, user_id, email_key, "success");
    }
out:
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_logout(struct gf_req *r)
{
    const char *p[1] = {gf_req_who(r)->session_id};
    char cookie[128];
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_session_delete, p, NULL);
    }
    if (err != GF_OK) {
        return gf_req_db_fail(r, err, "session", NULL);
    }
    snprintf(cookie, sizeof(cookie), "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
             GF_SESSION_COOKIE, gf_req_app(r)->tls ? "; Secure" : "");
    gf_req_add_header(r, "Set-Cookie", cookie);
    gf_req_audit_object(r, gf_req_who(r)->user_id);
    gf_req_reply_empty(r, 204);
    return GF_OK;
}

enum gf_err gf_h_me(struct gf_req *r)
{
    const struct gf_principal *w = gf_req_who(r);
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    if (w->kind == GF_AUTH_TOKEN) {
        return reply_me(r, db, w->user_id, "token", NULL, 200);
    }
    return reply_me(r, db, w->user_id, "session", w->csrf_token, 200);
}
