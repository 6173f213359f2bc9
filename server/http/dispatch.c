/* SPDX-License-Identifier: Apache-2.0
 *
 * dispatch.c - everything between "a route matched" and "the handler runs", from the row of
 * the router table: authentication, CSRF, server-admin and session-only routes, tenant scope
 * and role, then for mutations one transaction holding the change, its audit event and the
 * stored Idempotency-Key response, so all three commit or none does.
 * Denied attempts are audited in a transaction of their own.
 */
#define GF_LOG_MODULE "http"
#include "auth.h"
#include "req_impl.h"

#include "../core/app.h"
#include "../mqtt/fleet.h"
#include "../store/db.h"
#include "../store/q_access.h"
#include "ids.h"
#include "gf_limits.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_mutation(enum gf_method m)
{
    return m == GF_POST || m == GF_PATCH || m == GF_PUT || m == GF_DELETE;
}

static const char *actor_type(const struct gf_principal *w)
{
    return w->kind == GF_AUTH_TOKEN ? "token" : w->kind == GF_AUTH_SESSION ? "user" : "anonymous";
}

/* Insert one audit row on the request's connection (inside or outside a transaction). */
static enum gf_err write_audit(struct gf_req *r, const char *outcome)
{
    const struct gf_route *rt = r->match.route;
    const struct gf_principal *w = &r->who;
    struct gf_dbconn *db;
    char label[300];
    char *detail = NULL;
    const char *tenant = r->audit_tenant[0] ? r->audit_tenant : (r->tenant[0] ? r->tenant : NULL);
    const char *object = r->audit_object;
    enum gf_err err;

    if (object[0] == '\0' && rt->object_param != NULL) {
        object = gf_req_param(r, rt->object_param);
    }
    if (w->kind == GF_AUTH_TOKEN) {
        snprintf(label, sizeof(label), "%s (token %s)", w->email, w->token_prefix);
    } else {
        snprintf(label, sizeof(label), "%s", w->email);
    }
    if (r->audit_detail != NULL) {
        detail = json_dumps(r->audit_detail, JSON_COMPACT);
    }
    if (r->audit_actor_type != NULL) {
        snprintf(label, sizeof(label), "%s %s", r->audit_actor_type, r->audit_actor_id);
    }
    const char *params[10] = {tenant,
                              r->audit_actor_type ? r->audit_actor_type : actor_type(w),
                              r->audit_actor_type ? (r->audit_actor_id[0] ? r->audit_actor_id : NULL)
                              : (w->user_id[0] ? w->user_id : NULL),
                              label,
                              rt->action ? rt->action : "access",
                              rt->object_type ? rt->object_type : "",
                              object ? object : "",
                              outcome,
                              r->source,
                              detail};
    err = gf_req_db(r, &db);
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_audit_insert, params, NULL);
    }
    free(detail);
    return err;
}

/* Forbidden, visibly: audit it (own transaction) and answer 403. */
static enum gf_err deny(struct gf_req *r, enum gf_err err, const char *msg)
{
    if (write_audit(r, "denied") != GF_OK) {
        gf_log_warn("could not audit a denied request", "path=%s", r->path);
    }
    return gf_req_fail(r, err, "", "%s", msg);
}

static enum gf_role min_role(enum gf_role a, enum gf_role b)
{
    return a < b ? a : b;
}

/* Map the route's object to a tenant and the caller's role there. GF_ERR_NOTFOUND when the
 * object does not exist or the caller may not see it (indistinguishable on purpose). */
static enum gf_err resolve_scope(struct gf_req *r)
{
    const struct gf_route *rt = r->match.route;
    static const struct {
        const struct gf_stmt *st;
        const char *param;
    } scopes[] = {
        [GF_SCOPE_TENANT] = {&gf_q_scope_tenant, "tenant_id"},
        [GF_SCOPE_PROJECT] = {&gf_q_scope_project, "project_id"},
        [GF_SCOPE_NODE] = {&gf_q_scope_node, "node_id"},
        [GF_SCOPE_CLUSTER] = {&gf_q_scope_cluster, "cluster_id"},
        [GF_SCOPE_ENROLL_TOKEN] = {&gf_q_scope_etoken, "enrollment_token_id"},
        [GF_SCOPE_BUNDLE] = {&gf_q_scope_bundle, "bundle_id"},
        [GF_SCOPE_SIGNING_KEY] = {&gf_q_scope_signing_key, "signing_key_id"},
        [GF_SCOPE_ROLLOUT] = {&gf_q_scope_rollout, "rollout_id"},
        [GF_SCOPE_COMMAND] = {&gf_q_scope_command, "command_id"},
        [GF_SCOPE_COMMAND_BATCH] = {&gf_q_scope_command_batch, "batch_id"},
        [GF_SCOPE_LOG_STREAM] = {&gf_q_scope_log_stream, "stream_id"},
    };
    const struct gf_stmt *st = scopes[rt->scope].st;
    const char *id = gf_req_param(r, scopes[rt->scope].param);
    const char *params[2] = {id, r->who.user_id};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_role role;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    err = gf_db_exec(db, st, params, &res);
    if (err != GF_OK) {
        return gf_req_fail(r, err, "", "cannot resolve the object");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such object");
    }
    snprintf(r->tenant, sizeof(r->tenant), "%s", gf_db_val(res, 0, 0));
    role = gf_role_parse(gf_db_val(res, 0, 1));
    PQclear(res);
    if (r->who.kind == GF_AUTH_SESSION && r->who.is_admin) {
        role = GF_ROLE_OWNER;
    }
    if (r->who.kind == GF_AUTH_TOKEN) {
        role = strcmp(r->who.token_tenant, r->tenant) == 0 ? min_role(role, r->who.token_role)
                                                            : GF_ROLE_NONE;
    }
    if (role == GF_ROLE_NONE) {
        r->tenant[0] = '\0';
        return gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such object");
    }
    r->role = role;
    if (role < rt->role) {
        char msg[96];
        snprintf(msg, sizeof(msg), "this needs the %s role in the tenant", gf_role_name(rt->role));
        return deny(r, GF_ERR_PERM, msg);
    }
    return GF_OK;
}

static enum gf_err check_access(struct gf_req *r)
{
    const struct gf_route *rt = r->match.route;
    enum gf_err err;

    for (size_t i = 0; i < r->match.nparams; i++) {
        const char *name = r->match.names[i];
        size_t nl = (size_t)(strchr(name, '}') - name);
        if (nl > 3 && strncmp(name + nl - 3, "_id", 3) == 0 && !gf_uuid_valid(r->match.values[i])) {
            char where[64];
            snprintf(where, sizeof(where), "%.*s", (int)nl, name);
            return gf_req_fail(r, GF_ERR_INVAL, where, "%s must be a UUID", where);
        }
    }
    if (rt->auth == GF_RA_NONE) {
        return GF_OK;
    }
    err = gf_auth_resolve(r);
    if (err != GF_OK) {
        return err;
    }
    if (r->who.kind == GF_AUTH_NONE) {
        return gf_req_fail(r, GF_ERR_AUTH, "", "sign in, or send Authorization: Bearer <token>");
    }
    if (is_mutation(r->method) && (err = gf_auth_check_csrf(r)) != GF_OK) {
        char msg[sizeof(r->diag.msg)];
        snprintf(msg, sizeof(msg), "%s", r->diag.msg);
        return deny(r, err, msg);
    }
    if (rt->auth == GF_RA_SESSION && r->who.kind != GF_AUTH_SESSION) {
        return deny(r, GF_ERR_PERM, "API tokens cannot do this; sign in");
    }
    if (rt->auth == GF_RA_ADMIN && !(r->who.kind == GF_AUTH_SESSION && r->who.is_admin)) {
        return deny(r, GF_ERR_PERM, "this needs a server administrator");
    }
    if (rt->scope != GF_SCOPE_NONE) {
        return resolve_scope(r);
    }
    return GF_OK;
}

/* 1 to GF_LIMIT_IDEMPOTENCY_KEY printable ASCII characters. */
static int idem_key_ok(const char *key)
{
    size_t n = strlen(key);

    if (n == 0 || n > GF_LIMIT_IDEMPOTENCY_KEY) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Idempotency-Key: claim it inside the transaction, or find the stored answer.
 * Returns GF_OK to go on, or *replayed = 1 when the stored response was set. */
static enum gf_err idem_claim(struct gf_req *r, const char *key, char *actor, size_t cap,
                              int *replayed)
{
    struct gf_dbconn *db = r->db;
    char hash[GF_SHA256_HEX_LEN + 1];
    PGresult *res = NULL;
    enum gf_err err;
    struct gf_buf h;

    snprintf(actor, cap, "%s:%s", r->who.kind == GF_AUTH_TOKEN ? "token" : "user",
             r->who.kind == GF_AUTH_TOKEN ? r->who.token_id : r->who.user_id);
    gf_buf_init(&h, GF_LIMIT_BODY_MAX + 4096);
    if (gf_buf_printf(&h, "%s %s\n", r->method_text, r->path) != GF_OK ||
        gf_buf_append(&h, r->body.data ? r->body.data : "", r->body.len) != GF_OK) {
        gf_buf_free(&h);
        return GF_ERR_NOMEM;
    }
    gf_sha256_hex(hash, sizeof(hash), h.data, h.len);
    gf_buf_free(&h);

    const char *p[5] = {actor, key, r->method_text, r->path, hash};
    err = gf_db_exec(db, &gf_q_idem_expire, p, NULL);
    if (err == GF_OK) {
        err = gf_db_exec(db, &gf_q_idem_claim, p, &res);
    }
    if (err != GF_OK) {
        return gf_req_fail(r, err, "", "cannot record the Idempotency-Key");
    }
    int claimed = PQntuples(res) == 1;
    PQclear(res);
    if (claimed) {
        return GF_OK;
    }
    err = gf_db_exec(db, &gf_q_idem_get, p, &res);
    if (err != GF_OK || PQntuples(res) != 1) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_CONFLICT, "Idempotency-Key",
                           "a request with this Idempotency-Key is still in progress");
    }
    if (strcmp(gf_db_val(res, 0, 0), hash) != 0) {
        PQclear(res);
        return gf_req_fail(r, GF_ERR_UNPROCESSABLE, "Idempotency-Key",
                           "this Idempotency-Key was used with a different request");
    }
    const char *status = gf_db_val(res, 0, 1);
    const char *ctype = gf_db_val(res, 0, 2);
    const char *body = gf_db_val(res, 0, 3);
    unsigned st = status ? (unsigned)strtoul(status, NULL, 10) : 409;
    err = gf_req_reply_text(r, st, ctype ? gf_arena_strdup(r->arena, ctype) : NULL,
                            body ? body : "", body ? strlen(body) : 0);
    PQclear(res);
    gf_req_add_header(r, "Idempotent-Replayed", "true");
    *replayed = 1;
    return err;
}

static enum gf_err idem_store(struct gf_req *r, const char *actor, const char *key)
{
    char status[8];
    const char *p[5] = {actor, key, status, r->resp_type, r->resp ? r->resp : ""};

    snprintf(status, sizeof(status), "%u", r->status);
    return gf_db_exec(r->db, &gf_q_idem_store, p, NULL);
}

/* One transaction: [idempotency claim] handler audit [idempotency store] commit. */
static enum gf_err run_mutation(struct gf_req *r)
{
    /* Unauthenticated routes have no actor to scope stored answers to: a replay could hand
     * one caller's answer (enrollment credentials) to another, so they ignore the header. */
    const char *key = r->method == GF_POST && r->match.route->auth != GF_RA_NONE
                          ? gf_req_header(r, "Idempotency-Key")
                          : NULL;
    char actor[64];
    int replayed = 0;
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    if (key != NULL && !idem_key_ok(key)) {
        return gf_req_fail(r, GF_ERR_INVAL, "Idempotency-Key",
                           "Idempotency-Key must be 1 to %u printable ASCII characters",
                           GF_LIMIT_IDEMPOTENCY_KEY);
    }
    err = gf_db_begin(db);
    if (err != GF_OK) {
        return gf_req_fail(r, GF_ERR_UNAVAILABLE, "", "database unavailable, try again");
    }
    if (key != NULL) {
        err = idem_claim(r, key, actor, sizeof(actor), &replayed);
        if (err != GF_OK || replayed) {
            gf_db_rollback(db);
            return err;
        }
    }
    err = r->match.route->fn(r);
    if (err == GF_OK && r->status < 400) {
        err = write_audit(r, "success");
        if (err == GF_OK && key != NULL) {
            err = idem_store(r, actor, key);
        }
        if (err == GF_OK) {
            err = gf_db_commit(db);
        }
        if (err == GF_OK && r->kick_fleet) {
            gf_fleet_kick(r->app->fleet);
        }
        if (err != GF_OK) {
            gf_req_fail(r, err == GF_ERR_CONFLICT ? GF_ERR_CONFLICT : GF_ERR_UNAVAILABLE, "",
                        "the change could not be committed; nothing was changed");
            err = r->fail_err;
        }
    }
    if (err != GF_OK || r->status >= 400) {
        gf_db_rollback(db);
    }
    return err;
}

void gf_dispatch(struct gf_req *r)
{
    const struct gf_route *rt = r->match.route;
    enum gf_err err = check_access(r);

    if (err == GF_OK) {
        r->fail_err = GF_OK;
        if (is_mutation(r->method) && !(rt->flags & GF_RF_SELF_TX)) {
            err = run_mutation(r);
        } else {
            err = rt->fn(r);
        }
    }
    if (err != GF_OK) {
        if (r->fail_err != err) {
            gf_diag_clear(&r->diag); /* the handler recorded no problem for this error */
        }
        gf_problem_reply(r, err);
    }
}
