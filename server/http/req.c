/* SPDX-License-Identifier: Apache-2.0
 *
 * req.c - the accessors and response setters of req.h.
 */
#include "req_impl.h"

#include "../core/app.h"
#include "../store/db.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {"none", "viewer", "operator", "admin", "owner"};

const char *gf_role_name(enum gf_role role)
{
    return (unsigned)role <= GF_ROLE_OWNER ? role_names[role] : "none";
}

enum gf_role gf_role_parse(const char *s)
{
    for (int i = GF_ROLE_VIEWER; i <= GF_ROLE_OWNER; i++) {
        if (s != NULL && strcmp(s, role_names[i]) == 0) {
            return (enum gf_role)i;
        }
    }
    return GF_ROLE_NONE;
}

const char *gf_req_param(const struct gf_req *r, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->match.nparams; i++) {
        if (strncmp(r->match.names[i], name, n) == 0 && r->match.names[i][n] == '}') {
            return r->match.values[i];
        }
    }
    return NULL;
}

const char *gf_req_query(const struct gf_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *gf_req_header(const struct gf_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

enum gf_method gf_req_method(const struct gf_req *r)
{
    return r->method;
}

const char *gf_req_path(const struct gf_req *r)
{
    return r->path;
}

const char *gf_req_source(const struct gf_req *r)
{
    return r->source;
}

struct gf_arena *gf_req_arena(struct gf_req *r)
{
    return r->arena;
}

struct gf_app *gf_req_app(struct gf_req *r)
{
    return r->app;
}

const struct gf_principal *gf_req_who(const struct gf_req *r)
{
    return &r->who;
}

const char *gf_req_tenant(const struct gf_req *r)
{
    return r->tenant[0] ? r->tenant : NULL;
}

enum gf_role gf_req_role(const struct gf_req *r)
{
    return r->role;
}

enum gf_err gf_req_db(struct gf_req *r, struct gf_dbconn **out)
{
    if (r->db == NULL) {
        enum gf_err err = gf_db_acquire(r->app->db, &r->db);
        if (err != GF_OK) {
            return gf_req_fail(r, err, "", "database unavailable, try again");
        }
    }
    *out = r->db;
    return GF_OK;
}

const char *gf_req_body(const struct gf_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

enum gf_err gf_req_json(struct gf_req *r, const struct gf_json_field *fields, size_t nfields,
                        json_t **out)
{
    const char *ct = gf_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    json_t *obj = NULL;
    enum gf_err err;

    if (ct == NULL || (strncmp(ct, "application/json", 16) != 0) ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        return gf_req_fail(r, GF_ERR_MEDIATYPE, "Content-Type",
                           "request body must be sent as Content-Type: application/json");
    }
    err = gf_json_parse_object(r->body.data ? r->body.data : "", r->body.len, &obj, &r->diag);
    if (err == GF_OK) {
        err = gf_json_check(obj, fields, nfields, "", &r->diag);
    }
    if (err != GF_OK) {
        json_decref(obj);
        r->fail_err = err;
        return err;
    }
    *out = obj;
    return GF_OK;
}

enum gf_err gf_req_reply_owned(struct gf_req *r, unsigned status, const char *ctype, char *data,
                               size_t len)
{
    gf_free(r->resp);
    r->resp = data;
    r->resp_len = len;
    r->resp_type = ctype;
    r->status = status;
    return GF_OK;
}

enum gf_err gf_req_reply_text(struct gf_req *r, unsigned status, const char *ctype,
                              const char *data, size_t len)
{
    char *copy = gf_malloc(len + 1);

    if (copy == NULL) {
        return GF_ERR_NOMEM;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    return gf_req_reply_owned(r, status, ctype, copy, len);
}

enum gf_err gf_req_reply_json(struct gf_req *r, unsigned status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    /* jansson allocates with malloc (we never replace its allocator): gf_free is free. */
    return gf_req_reply_owned(r, status, "application/json", s, strlen(s));
}

void gf_req_reply_empty(struct gf_req *r, unsigned status)
{
    gf_req_reply_owned(r, status, NULL, NULL, 0);
}

void gf_req_add_header(struct gf_req *r, const char *name, const char *value)
{
    if (r->nhdr >= GF_REQ_MAX_HEADERS) {
        return;
    }
    const char *n = gf_arena_strdup(r->arena, name);
    const char *v = gf_arena_strdup(r->arena, value);
    if (n != NULL && v != NULL) {
        r->hdr_name[r->nhdr] = n;
        r->hdr_value[r->nhdr] = v;
        r->nhdr++;
    }
}

enum gf_err gf_req_fail(struct gf_req *r, enum gf_err err, const char *where, const char *fmt,
                        ...)
{
    va_list ap;

    r->fail_err = err;
    snprintf(r->diag.where, sizeof(r->diag.where), "%s", where ? where : "");
    va_start(ap, fmt);
    vsnprintf(r->diag.msg, sizeof(r->diag.msg), fmt, ap);
    va_end(ap);
    return err;
}

void gf_req_audit_object(struct gf_req *r, const char *object_id)
{
    snprintf(r->audit_object, sizeof(r->audit_object), "%s", object_id ? object_id : "");
}

void gf_req_audit_actor(struct gf_req *r, const char *type, const char *id)
{
    r->audit_actor_type = type;
    snprintf(r->audit_actor_id, sizeof(r->audit_actor_id), "%s", id ? id : "");
}

const char *gf_req_requester(const struct gf_req *r, char *label, size_t cap)
{
    const struct gf_principal *w = &r->who;

    if (w->kind == GF_AUTH_TOKEN) {
        snprintf(label, cap, "token %s", w->token_prefix);
    } else {
        snprintf(label, cap, "%s", w->email);
    }
    return w->user_id[0] ? w->user_id : NULL;
}

void gf_req_kick_fleet(struct gf_req *r)
{
    r->kick_fleet = 1;
}

void gf_req_audit_tenant(struct gf_req *r, const char *tenant_id)
{
    snprintf(r->audit_tenant, sizeof(r->audit_tenant), "%s", tenant_id ? tenant_id : "");
}

void gf_req_audit_detail(struct gf_req *r, json_t *detail)
{
    json_decref(r->audit_detail);
    r->audit_detail = detail;
}

unsigned gf_req_status(const struct gf_req *r)
{
    return r->status;
}
