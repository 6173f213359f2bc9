/* SPDX-License-Identifier: Apache-2.0
 *
 * req_impl.h - the definition of struct gf_req, private to server/http/ (server.c,
 * dispatch.c, req.c). Handlers see only req.h.
 */
#ifndef GF_SERVER_REQ_IMPL_H
#define GF_SERVER_REQ_IMPL_H

#include "buf.h"
#include "req.h"
#include "router.h"

#include <microhttpd.h>
#include <stdint.h>

#define GF_REQ_MAX_HEADERS 12

struct gf_req {
    struct gf_app *app;
    struct MHD_Connection *conn;
    struct gf_arena *arena;
    int64_t start_us;
    const char *method_text;
    enum gf_method method;
    char *path;      /* arena */
    char source[64]; /* peer address */

    /* body */
    struct gf_buf body;
    int body_too_big;

    /* routing and auth */
    struct gf_route_match match; /* matched once, when the headers are in */
    enum gf_err route_err;       /* of that match: GF_OK, GF_ERR_METHOD, GF_ERR_NOTFOUND */
    char allow[64];              /* GF_ERR_METHOD: the methods the path has */
    int matched;
    struct gf_principal who;
    char tenant[40];
    enum gf_role role;

    /* database */
    struct gf_dbconn *db;

    /* response */
    unsigned status;
    char *resp; /* gf_malloc'd */
    size_t resp_len;
    const char *resp_type;
    const char *hdr_name[GF_REQ_MAX_HEADERS];
    const char *hdr_value[GF_REQ_MAX_HEADERS];
    size_t nhdr;
    struct gf_sse *sse; /* an event stream claimed by gf_sse_open (sse.c) */

    /* problem to answer when the handler fails */
    enum gf_err fail_err;
    int kick_fleet; /* gf_req_kick_fleet: wake the fleet thread after the commit */
    struct gf_diag diag;

    /* audit */
    char audit_object[80];
    char audit_tenant[40];
    json_t *audit_detail;
    const char *audit_actor_type; /* static string, NULL = from the principal */
    char audit_actor_id[40];
};

/* Build a problem+json response from err and r->diag (server/http/problem.c). */
void gf_problem_reply(struct gf_req *r, enum gf_err err);

/* HTTP status for an error: the one mapping (problem.c). */
unsigned gf_problem_status(enum gf_err err);

/* Run the matched route (dispatch.c). */
void gf_dispatch(struct gf_req *r);

/* Serve a static file from web_root, or a 404 problem (static.c). */
void gf_static_serve(struct gf_req *r);

/* Queue r's event stream (sse.c): 1 with *ret set when it has one to send; 0 when it has
 * none (a stream claimed but not started is released) and the normal response follows. */
int gf_sse_queue(struct gf_req *r, enum MHD_Result *ret);

#endif
