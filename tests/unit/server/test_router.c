/* SPDX-License-Identifier: Apache-2.0
 *
 * test_router.c - path matching over the real router table: parameters, 404 vs 405 with
 * Allow, HEAD as GET, and table invariants every route must keep (mutations carry an audit
 * action; scoped routes name their scope parameter; tenant-scoped routes never use GF_RA_NONE).
 */
#include "gf_test.h"
#include "http/router.h"

#include <string.h>

static void test_match(void)
{
    struct gf_route_match m;
    char allow[64];

    CHECK(gf_router_match("GET", "/api/v1/projects/123e4567-e89b-12d3-a456-426614174000", &m,
                          allow, sizeof(allow)) == GF_OK);
    CHECK_STR(m.route->pattern, "/api/v1/projects/{project_id}");
    CHECK(m.nparams == 1);
    CHECK_STR(m.values[0], "123e4567-e89b-12d3-a456-426614174000");
    CHECK(gf_router_match("PATCH", "/api/v1/tenants/t1/members/u2", &m, allow, sizeof(allow)) ==
          GF_OK);
    CHECK(m.nparams == 2 && !strcmp(m.values[0], "t1") && !strcmp(m.values[1], "u2"));
    CHECK(gf_router_match("HEAD", "/healthz", &m, allow, sizeof(allow)) == GF_OK);
    CHECK(gf_router_match("PUT", "/api/v1/tenants", &m, allow, sizeof(allow)) == GF_ERR_METHOD);
    CHECK(strstr(allow, "GET") != NULL && strstr(allow, "POST") != NULL);
    CHECK(gf_router_match("GET", "/api/v1/nope", &m, allow, sizeof(allow)) == GF_ERR_NOTFOUND);
    CHECK(gf_router_match("GET", "/api/v1/tenants/", &m, allow, sizeof(allow)) ==
          GF_ERR_NOTFOUND);
    CHECK(gf_router_match("GET", "/api/v1/tenants/a/b", &m, allow, sizeof(allow)) ==
          GF_ERR_NOTFOUND);
}

static void test_table_invariants(void)
{
    for (size_t i = 0; i < gf_nroutes; i++) {
        const struct gf_route *r = &gf_routes[i];
        int mutation = r->method != GF_GET;
        if (mutation && r->action == NULL) {
            fprintf(stderr, "route %s %s has no audit action\n", gf_method_name(r->method),
                    r->pattern);
        }
        CHECK(!mutation || r->action != NULL);
        if (r->scope == GF_SCOPE_TENANT) {
            CHECK(strstr(r->pattern, "{tenant_id}") != NULL && r->auth != GF_RA_NONE);
            CHECK(r->role >= GF_ROLE_VIEWER);
        }
        if (r->scope == GF_SCOPE_NODE) {
            CHECK(strstr(r->pattern, "{node_id}") != NULL && r->auth != GF_RA_NONE);
        }
        if (r->scope == GF_SCOPE_CLUSTER) {
            CHECK(strstr(r->pattern, "{cluster_id}") != NULL && r->auth != GF_RA_NONE);
        }
        if (r->scope == GF_SCOPE_ENROLL_TOKEN) {
            CHECK(strstr(r->pattern, "{enrollment_token_id}") != NULL && r->auth != GF_RA_NONE);
        }
        if (r->scope == GF_SCOPE_PROJECT) {
            CHECK(strstr(r->pattern, "{project_id}") != NULL && r->auth != GF_RA_NONE);
        }
        /* Any route taking an object id must either be scoped or restricted. */
        if (strchr(r->pattern, '{') != NULL) {
            CHECK(r->scope != GF_SCOPE_NONE || r->auth == GF_RA_ADMIN ||
                  (r->flags & GF_RF_NODE_SIGNED) || strstr(r->pattern, "{token_id}") != NULL);
        }
        for (size_t j = i + 1; j < gf_nroutes; j++) {
            CHECK(!(gf_routes[j].method == r->method &&
                    strcmp(gf_routes[j].pattern, r->pattern) == 0));
        }
    }
}

int main(void)
{
    test_match();
    test_table_invariants();
    return gf_test_summary("test_router");
}
