/* SPDX-License-Identifier: Apache-2.0
 *
 * auth.c - resolve the principal of a request from its credentials. Secrets are only ever
 * compared as SHA-256 hashes looked up by an indexed column; they are never logged.
 */
#include "auth.h"

#include "../store/db.h"
#include "../store/q_access.h"
#include "../core/app.h"
#include "ids.h"
#include "req_impl.h"

#include <sodium.h>

#include <string.h>

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static enum gf_err resolve_token(struct gf_req *r, const char *token)
{
    char hash[GF_SHA256_HEX_LEN + 1];
    const char *params[1] = {hash};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err;

    if (strncmp(token, GF_TOKEN_PREFIX, strlen(GF_TOKEN_PREFIX)) != 0 || strlen(token) > 200) {
        return gf_req_fail(r, GF_ERR_AUTH, "Authorization", "malformed API token");
    }
    gf_sha256_hex(hash, sizeof(hash), token, strlen(token));
    err = gf_req_db(r, &db);
    if (err != GF_OK) {
        return err;
    }
    err = gf_db_exec(db, &gf_q_token_lookup, params, &res);
    if (err != GF_OK) {
        return gf_req_fail(r, err, "", "cannot check the API token");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_AUTH, "Authorization",
                           "API token is invalid, expired or revoked");
    }
    r->who.kind = GF_AUTH_TOKEN;
    copy(r->who.token_id, sizeof(r->who.token_id), gf_db_val(res, 0, 0));
    copy(r->who.user_id, sizeof(r->who.user_id), gf_db_val(res, 0, 1));
    copy(r->who.email, sizeof(r->who.email), gf_db_val(res, 0, 2));
    copy(r->who.token_tenant, sizeof(r->who.token_tenant), gf_db_val(res, 0, 3));
    r->who.token_role = gf_role_parse(gf_db_val(res, 0, 4));
    copy(r->who.token_prefix, sizeof(r->who.token_prefix), gf_db_val(res, 0, 5));
    PQclear(res);
    params[0] = r->who.token_id;
    gf_db_exec(db, &gf_q_token_touch, params, NULL);
    return GF_OK;
}

static enum gf_err resolve_session(struct gf_req *r, const char *cookie)
{
    char hash[GF_SHA256_HEX_LEN + 1];
    const char *params[1] = {hash};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err;

    gf_sha256_hex(hash, sizeof(hash), cookie, strlen(cookie));
    err = gf_req_db(r, &db);
    if (err != GF_OK) {
        return err;
    }
    err = gf_db_exec(db, &gf_q_session_lookup, params, &res);
    if (err != GF_OK) {
        return gf_req_fail(r, err, "", "cannot check the session");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_AUTH, "Cookie", "session expired or signed out");
    }
    r->who.kind = GF_AUTH_SESSION;
    copy(r->who.session_id, sizeof(r->who.session_id), gf_db_val(res, 0, 0));
    copy(r->who.user_id, sizeof(r->who.user_id), gf_db_val(res, 0, 1));
    copy(r->who.email, sizeof(r->who.email), gf_db_val(res, 0, 2));
    r->who.is_admin = strcmp(gf_db_val(res, 0, 3), "t") == 0;
    PQclear(res);
    gf_auth_csrf_token(r->app->master_key, cookie, r->who.csrf_token, sizeof(r->who.csrf_token));
    return GF_OK;
}

void gf_auth_csrf_token(const unsigned char master_key[32], const char *cookie, char *out,
                        size_t cap)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, master_key, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"csrf:", 5);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)cookie, strlen(cookie));
    crypto_auth_hmacsha256_final(&st, mac);
    gf_b64url_encode(out, cap, mac, sizeof(mac));
}

enum gf_err gf_auth_resolve(struct gf_req *r)
{
    const char *authz = gf_req_header(r, "Authorization");
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, GF_SESSION_COOKIE);

    memset(&r->who, 0, sizeof(r->who));
    if (authz != NULL) {
        if (strncmp(authz, "Bearer ", 7) != 0) {
            return gf_req_fail(r, GF_ERR_AUTH, "Authorization",
                               "expected Authorization: Bearer <API token>");
        }
        return resolve_token(r, authz + 7);
    }
    if (cookie != NULL && cookie[0] != '\0') {
        return resolve_session(r, cookie);
    }
    return GF_OK;
}

enum gf_err gf_auth_check_csrf(struct gf_req *r)
{
    const char *tok = gf_req_header(r, "X-CSRF-Token");

    if (r->who.kind != GF_AUTH_SESSION) {
        return GF_OK;
    }
    if (tok == NULL || tok[0] == '\0') {
        return gf_req_fail(r, GF_ERR_CSRF, "X-CSRF-Token",
                           "X-CSRF-Token header is required with session cookies");
    }
    if (!gf_secure_streq(tok, r->who.csrf_token)) {
        return gf_req_fail(r, GF_ERR_CSRF, "X-CSRF-Token", "X-CSRF-Token does not match the session");
    }
    return GF_OK;
}
