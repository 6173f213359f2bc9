/* SPDX-License-Identifier: Apache-2.0
 *
 * router.c - segment-by-segment matching of paths against the route patterns.
 */
#include "router.h"

#include <string.h>

const char *gf_method_name(enum gf_method m)
{
    switch (m) {
    case GF_GET:
        return "GET";
    case GF_POST:
        return "POST";
    case GF_PATCH:
        return "PATCH";
    case GF_PUT:
        return "PUT";
    case GF_DELETE:
        return "DELETE";
    case GF_METHOD_OTHER:
        break;
    }
    return "OTHER";
}

/* Match one pattern; fills params. Returns 1 on match. */
static int match_path(const char *pat, const char *path, struct gf_route_match *m)
{
    m->nparams = 0;
    while (*pat != '\0' && *path != '\0') {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            const char *end = strchr(path, '/');
            size_t vl = end ? (size_t)(end - path) : strlen(path);
            if (close == NULL || vl == 0 || vl >= sizeof(m->values[0]) ||
                m->nparams >= GF_LIMIT_PATH_PARAMS) {
                return 0;
            }
            memcpy(m->values[m->nparams], path, vl);
            m->values[m->nparams][vl] = '\0';
            m->names[m->nparams] = pat + 1; /* up to '}', compared with strncmp */
            m->nparams++;
            pat = close + 1;
            path += vl;
        } else if (*pat == *path) {
            pat++;
            path++;
        } else {
            return 0;
        }
    }
    return *pat == '\0' && *path == '\0';
}

enum gf_err gf_router_match(const char *method, const char *path, struct gf_route_match *m,
                            char *allow, size_t allowcap)
{
    int path_matched = 0;
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;

    if (allowcap > 0) {
        allow[0] = '\0';
    }
    for (size_t i = 0; i < gf_nroutes; i++) {
        struct gf_route_match tmp;
        if (!match_path(gf_routes[i].pattern, path, &tmp)) {
            continue;
        }
        const char *name = gf_method_name(gf_routes[i].method);
        if (strcmp(name, want) == 0) {
            *m = tmp;
            m->route = &gf_routes[i];
            m->index = i;
            return GF_OK;
        }
        path_matched = 1;
        size_t n = strlen(allow);
        if (n + strlen(name) + 3 < allowcap) {
            if (n > 0) {
                memcpy(allow + n, ", ", 2);
                n += 2;
            }
            memcpy(allow + n, name, strlen(name) + 1);
        }
    }
    return path_matched ? GF_ERR_METHOD : GF_ERR_NOTFOUND;
}

void gf_router_print_json(FILE *out)
{
    static const char *const auth[] = {"none", "any", "session", "server_admin"};
    static const char *const scope[] = {
        [GF_SCOPE_NONE] = "none",       [GF_SCOPE_TENANT] = "tenant",
        [GF_SCOPE_PROJECT] = "project", [GF_SCOPE_NODE] = "node",
        [GF_SCOPE_CLUSTER] = "cluster", [GF_SCOPE_ENROLL_TOKEN] = "enrollment_token",
        [GF_SCOPE_BUNDLE] = "bundle",   [GF_SCOPE_SIGNING_KEY] = "signing_key",
        [GF_SCOPE_ROLLOUT] = "rollout", [GF_SCOPE_COMMAND] = "command",
        [GF_SCOPE_COMMAND_BATCH] = "command_batch", [GF_SCOPE_LOG_STREAM] = "log_stream",
    };
    _Static_assert(sizeof(scope) / sizeof(scope[0]) == GF_SCOPE_LOG_STREAM + 1,
                   "every route scope has a name");

    fprintf(out, "[\n");
    for (size_t i = 0; i < gf_nroutes; i++) {
        const struct gf_route *r = &gf_routes[i];
        fprintf(out,
                "  {\"method\": \"%s\", \"path\": \"%s\", \"auth\": \"%s\", \"scope\": \"%s\", "
                "\"role\": \"%s\", \"action\": \"%s\"}%s\n",
                gf_method_name(r->method), r->pattern,
                (r->flags & GF_RF_NODE_SIGNED) ? "node" : auth[r->auth], scope[r->scope],
                r->auth == GF_RA_ADMIN ? "server_admin" : gf_role_name(r->role),
                r->action ? r->action : "", i + 1 < gf_nroutes ? "," : "");
    }
    fprintf(out, "]\n");
}
