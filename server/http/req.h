/* SPDX-License-Identifier: Apache-2.0
 *
 * req.h - what a handler sees of one HTTP request: path parameters, query, headers, the
 * authenticated principal, the tenant the route resolved to, a per-request arena, a lazily
 * acquired database connection, and the calls that set the response.
 *
 * struct gf_req is opaque (defined in server.c). All memory a handler takes from
 * gf_req_arena() is freed in one place when the request completes. A handler either sets a
 * response and returns GF_OK, or returns an error after gf_req_fail() (or without it: the
 * dispatcher then answers a generic problem for the error). Not thread-safe: one request
 * is served by one thread.
 */
#ifndef GF_SERVER_REQ_H
#define GF_SERVER_REQ_H

#include "arena.h"
#include "err.h"
#include "json.h"

#include <stddef.h>

struct gf_req;
struct gf_app;
struct gf_dbconn;

enum gf_method { GF_GET, GF_POST, GF_PATCH, GF_PUT, GF_DELETE, GF_METHOD_OTHER };

/* Tenant roles, ordered: a higher value includes the lower ones. */
enum gf_role { GF_ROLE_NONE, GF_ROLE_VIEWER, GF_ROLE_OPERATOR, GF_ROLE_ADMIN, GF_ROLE_OWNER };

enum gf_auth_kind { GF_AUTH_NONE, GF_AUTH_SESSION, GF_AUTH_TOKEN };

/* Who is calling. Plain value struct filled by auth.c. */
struct gf_principal {
    enum gf_auth_kind kind;
    char user_id[40];
    char email[256];
    int is_admin;            /* server admin (sessions only; tokens never carry it) */
    char session_id[40];
    char csrf_token[64];     /* expected X-CSRF-Token of this session */
    char token_id[40];
    char token_tenant[40];
    enum gf_role token_role;
    char token_prefix[24];
};

/* Role name ("viewer") and back; gf_role_parse returns GF_ROLE_NONE for unknown text. */
const char *gf_role_name(enum gf_role role);
enum gf_role gf_role_parse(const char *s);

/* Path parameter by name ("tenant_id"), NULL if the route has none. Borrowed. */
const char *gf_req_param(const struct gf_req *r, const char *name);

/* Query argument / request header, NULL if absent. Borrowed (valid until completion). */
const char *gf_req_query(const struct gf_req *r, const char *key);
const char *gf_req_header(const struct gf_req *r, const char *name);

enum gf_method gf_req_method(const struct gf_req *r);
const char *gf_req_path(const struct gf_req *r);
const char *gf_req_source(const struct gf_req *r);

struct gf_arena *gf_req_arena(struct gf_req *r);
struct gf_app *gf_req_app(struct gf_req *r);
const struct gf_principal *gf_req_who(const struct gf_req *r);

/* Tenant id the route's scope resolved to (NULL for unscoped routes), and the caller's
 * effective role in it. */
const char *gf_req_tenant(const struct gf_req *r);
enum gf_role gf_req_role(const struct gf_req *r);

/* The request's database connection, acquired on first call and released at completion.
 * Inside a mutating route it is already in the route's transaction. GF_ERR_UNAVAILABLE. */
enum gf_err gf_req_db(struct gf_req *r, struct gf_dbconn **out);

/* Parse the body as a JSON object and check it against fields. Caller owns *out
 * (json_decref). GF_ERR_MEDIATYPE, GF_ERR_PARSE, GF_ERR_INVAL with the problem already
 * recorded (just return the error). */
enum gf_err gf_req_json(struct gf_req *r, const struct gf_json_field *fields, size_t nfields,
                        json_t **out);

/* Raw body bytes (NUL-terminated), len may be 0. Borrowed. */
const char *gf_req_body(const struct gf_req *r, size_t *len);

/* Responses. reply_json takes ownership of body (also on failure); reply_text copies. */
enum gf_err gf_req_reply_json(struct gf_req *r, unsigned status, json_t *body);
enum gf_err gf_req_reply_text(struct gf_req *r, unsigned status, const char *ctype,
                              const char *data, size_t len);
/* Takes ownership of data allocated with gf_malloc (also on failure). */
enum gf_err gf_req_reply_owned(struct gf_req *r, unsigned status, const char *ctype, char *data,
                               size_t len);
void gf_req_reply_empty(struct gf_req *r, unsigned status);

/* Add a response header (copied). Up to 12 per response; later ones are dropped and logged. */
void gf_req_add_header(struct gf_req *r, const char *name, const char *value);

/* Record the problem to answer (where: JSON pointer, parameter or header name). Returns err. */
enum gf_err gf_req_fail(struct gf_req *r, enum gf_err err, const char *where, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

/* Audit details for the route's event: object id (copied) and detail (takes ownership, may be
 * NULL). tenant_id overrides the resolved tenant (for creations: the new tenant). */
void gf_req_audit_object(struct gf_req *r, const char *object_id);
void gf_req_audit_tenant(struct gf_req *r, const char *tenant_id);
void gf_req_audit_detail(struct gf_req *r, json_t *detail);
/* The actor when it is not the authenticated principal (agents: type "node", id the node). */
void gf_req_audit_actor(struct gf_req *r, const char *type, const char *id);

/* Wake the fleet thread once the route's transaction committed (new commands to publish):
 * woken before, it could look before the rows are visible. */
void gf_req_kick_fleet(struct gf_req *r);

/* Who asked, for rows that keep it: the user id (NULL for API tokens, which have none) and a
 * label in label ("user@example.com" or "token gft_abc"). */
const char *gf_req_requester(const struct gf_req *r, char *label, size_t cap);

/* Status set so far (0 if none). */
unsigned gf_req_status(const struct gf_req *r);

#endif
