/* SPDX-License-Identifier: Apache-2.0
 *
 * test_metrics.c - Prometheus rendering: counters by route pattern and status (never by
 * id), cumulative histogram buckets with +Inf = count, unmatched paths in one series, and
 * the one gf_err -> HTTP status mapping.
 */
#include "gf_test.h"
#include "http/metrics.h"
#include "http/req_impl.h"
#include "http/router.h"

static size_t route_index(const char *method, const char *pattern)
{
    for (size_t i = 0; i < gf_nroutes; i++) {
        if (!strcmp(gf_routes[i].pattern, pattern) &&
            !strcmp(gf_method_name(gf_routes[i].method), method)) {
            return i;
        }
    }
    return (size_t)-1;
}

int main(void)
{
    struct gf_metrics *m = gf_metrics_new(gf_nroutes);
    struct gf_buf b;
    size_t proj = route_index("GET", "/api/v1/projects/{project_id}");

    CHECK(m != NULL && proj != (size_t)-1);
    gf_metrics_observe(m, proj, 200, 800);      /* 0.8 ms */
    gf_metrics_observe(m, proj, 200, 30000);    /* 30 ms */
    gf_metrics_observe(m, proj, 404, 20000000); /* 20 s: only +Inf */
    gf_metrics_observe(m, (size_t)-1, 404, 100);
    gf_metrics_observe(m, proj, 418, 100);      /* unknown code -> "other" */
    gf_metrics_inflight(m, 2);
    gf_buf_init(&b, 1 << 20);
    CHECK(gf_metrics_render(m, NULL, &b) == GF_OK);
    const char *t = b.data;
    CHECK(strstr(t, "gf_http_requests_total{method=\"GET\",route=\"/api/v1/projects/"
                    "{project_id}\",status=\"200\"} 2\n") != NULL);
    CHECK(strstr(t, "status=\"404\"} 1\n") != NULL);
    CHECK(strstr(t, "route=\"unmatched\",status=\"404\"} 1") != NULL);
    CHECK(strstr(t, "status=\"other\"} 1") != NULL);
    CHECK(strstr(t, "route=\"/api/v1/projects/{project_id}\",le=\"0.001\"} 2\n") != NULL);
    CHECK(strstr(t, "route=\"/api/v1/projects/{project_id}\",le=\"0.05\"} 3\n") != NULL);
    CHECK(strstr(t, "route=\"/api/v1/projects/{project_id}\",le=\"10\"} 3\n") != NULL);
    CHECK(strstr(t, "route=\"/api/v1/projects/{project_id}\",le=\"+Inf\"} 4\n") != NULL);
    CHECK(strstr(t, "gf_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/"
                    "projects/{project_id}\"} 4\n") != NULL);
    CHECK(strstr(t, "gf_http_requests_in_flight 2\n") != NULL);
    CHECK(strstr(t, "# TYPE gf_http_request_duration_seconds histogram") != NULL);
    gf_buf_free(&b);

    gf_buf_init(&b, 64); /* too small: reported, not truncated silently */
    CHECK(gf_metrics_render(m, NULL, &b) == GF_ERR_TOOBIG);
    gf_buf_free(&b);
    gf_metrics_free(m);

    CHECK(gf_problem_status(GF_ERR_NOTFOUND) == 404);
    CHECK(gf_problem_status(GF_ERR_CSRF) == 403);
    CHECK(gf_problem_status(GF_ERR_PRECONDITION) == 412);
    CHECK(gf_problem_status(GF_ERR_UNPROCESSABLE) == 422);
    CHECK(gf_problem_status(GF_ERR_RATELIMIT) == 429);
    CHECK(gf_problem_status(GF_ERR_UNAVAILABLE) == 503);
    CHECK(gf_problem_status(GF_ERR_DB) == 500);
    for (int e = 0; e < GF_ERR__COUNT; e++) {
        CHECK(gf_problem_status((enum gf_err)e) >= 200);
        CHECK(strcmp(gf_err_str((enum gf_err)e), "unknown error") != 0);
    }
    return gf_test_summary("test_metrics");
}
