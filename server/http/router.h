/* SPDX-License-Identifier: Apache-2.0
 *
 * router.h - the router table and path matching.
 *
 * Every route of the server is one row of gf_routes[] (routes.c): method, path pattern with
 * {name} parameters, handler, how the caller must authenticate, how the route's object maps
 * to a tenant (its scope), the minimum role in that tenant, and the audit action. The
 * dispatcher enforces authentication, CSRF, scope and role from the row before the handler
 * runs, so a handler never forgets them; the tenant-isolation test walks this same table.
 */
#ifndef GF_SERVER_ROUTER_H
#define GF_SERVER_ROUTER_H

#include "gf_limits.h"
#include "req.h"

#include <stdio.h>

typedef enum gf_err (*gf_handler_fn)(struct gf_req *r);

enum gf_route_auth {
    GF_RA_NONE,    /* public */
    GF_RA_ANY,     /* session or API token */
    GF_RA_SESSION, /* interactive session only (tokens cannot manage tokens) */
    GF_RA_ADMIN,   /* server admin (session) */
};

enum gf_route_scope {
    GF_SCOPE_NONE,    /* not tenant-scoped, or scoped inside the handler */
    GF_SCOPE_TENANT,  /* {tenant_id} */
    GF_SCOPE_PROJECT, /* {project_id} -> its tenant */
    GF_SCOPE_NODE,    /* {node_id} -> its project's tenant */
    GF_SCOPE_CLUSTER, /* {cluster_id} -> its project's tenant */
    GF_SCOPE_ENROLL_TOKEN, /* {enrollment_token_id} -> its project's tenant */
    GF_SCOPE_BUNDLE,  /* {bundle_id} -> its project's tenant */
    GF_SCOPE_SIGNING_KEY, /* {signing_key_id} -> its project's tenant */
    GF_SCOPE_ROLLOUT,     /* {rollout_id} -> its project's tenant */
    GF_SCOPE_COMMAND,     /* {command_id} -> its project's tenant */
    GF_SCOPE_COMMAND_BATCH, /* {batch_id} -> its project's tenant */
    GF_SCOPE_LOG_STREAM,  /* {stream_id} -> its project's tenant */
};

enum gf_route_flags {
    GF_RF_SELF_TX = 1,     /* mutating route that manages its own transaction and audit */
    GF_RF_NODE_SIGNED = 2, /* agent route: the handler checks the node's signature (nodeauth.h) */
    GF_RF_BIG_BODY = 4,    /* body up to max_upload_bytes instead of max_body_bytes */
};

struct gf_route {
    enum gf_method method;
    const char *pattern;
    gf_handler_fn fn;
    enum gf_route_auth auth;
    enum gf_route_scope scope;
    enum gf_role role;
    const char *action;      /* audit action for mutations, e.g. "project.update" */
    const char *object_type; /* audit object type */
    const char *object_param;/* path parameter naming the object, if any */
    unsigned flags;
};

extern const struct gf_route gf_routes[];
extern const size_t gf_nroutes;

struct gf_route_match {
    const struct gf_route *route;
    size_t index;
    size_t nparams;
    const char *names[GF_LIMIT_PATH_PARAMS];
    char values[GF_LIMIT_PATH_PARAMS][80]; /* uuids, sha256 hex */
};

/* Match method + path. GF_OK with m filled; GF_ERR_NOTFOUND if no pattern matches the path;
 * GF_ERR_METHOD if a pattern matches but not the method (allow receives "GET, POST").
 * HEAD matches GET routes. */
enum gf_err gf_router_match(const char *method, const char *path, struct gf_route_match *m,
                            char *allow, size_t allowcap);

/* Method name. */
const char *gf_method_name(enum gf_method m);

/* Print the table as JSON (for `gatefleet-server routes`). */
void gf_router_print_json(FILE *out);

#endif
