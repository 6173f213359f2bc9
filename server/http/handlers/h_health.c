/* SPDX-License-Identifier: Apache-2.0
 *
 * h_health.c - /api/v1/nodes/{node_id}/health (a downsampled series: time buckets of `step`
 * seconds computed in PostgreSQL) and /api/v1/projects/{project_id}/health/summary (counts
 * of nodes online, offline, pending, on battery, with the link down, with CPU over 90 %).
 * A series is capped at GF_HEALTH_MAX_POINTS buckets: a 30-day chart needs a step of at
 * least an hour, which keeps the answer small whatever the sample rate.
 */
#include "handlers.h"

#include "../../store/q_nodes.h"
#include "../respond.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>

#define GF_HEALTH_MAX_POINTS 1000
#define GF_HEALTH_DEFAULT_SPAN (3600LL * 1000000) /* one hour back when from is absent */

static enum gf_err time_arg(struct gf_req *r, const char *name, int64_t def, int64_t *out)
{
    const char *v = gf_req_query(r, name);

    if (v == NULL) {
        *out = def;
        return GF_OK;
    }
    if (gf_time_parse_rfc3339(v, out) != GF_OK) {
        return gf_req_fail(r, GF_ERR_INVAL, name, "%s must be an RFC 3339 time", name);
    }
    return GF_OK;
}

enum gf_err gf_h_health_series(struct gf_req *r)
{
    char from_s[40], to_s[40], step_s[24];
    const char *step_arg = gf_req_query(r, "step");
    int64_t now = gf_time_now_us(), from, to;
    enum gf_err err;

    if ((err = time_arg(r, "to", now, &to)) != GF_OK ||
        (err = time_arg(r, "from", to - GF_HEALTH_DEFAULT_SPAN, &from)) != GF_OK) {
        return err;
    }
    if (from >= to) {
        return gf_req_fail(r, GF_ERR_INVAL, "from", "from must be before to");
    }
    int64_t span_s = (to - from) / 1000000;
    long long step = (span_s + GF_HEALTH_MAX_POINTS - 1) / GF_HEALTH_MAX_POINTS;
    if (step < 1) {
        step = 1;
    }
    if (step_arg != NULL) {
        char *end = NULL;
        long long want = strtoll(step_arg, &end, 10);
        if (end == step_arg || *end != '\0' || want < 1 || want > 86400 * 31) {
            return gf_req_fail(r, GF_ERR_INVAL, "step", "step must be 1 to 2678400 seconds");
        }
        if (want < step) {
            return gf_req_fail(r, GF_ERR_INVAL, "step",
                               "step must be at least %lld s for this range (at most %d points)",
                               step, GF_HEALTH_MAX_POINTS);
        }
        step = want;
    }
    gf_time_format_rfc3339(from, from_s, sizeof(from_s));
    gf_time_format_rfc3339(to, to_s, sizeof(to_s));
    snprintf(step_s, sizeof(step_s), "%lld", step);
    const char *p[4] = {gf_req_param(r, "node_id"), from_s, to_s, step_s};
    return gf_reply_row(r, &gf_q_health_series, p, 200, "node");
}

enum gf_err gf_h_health_summary(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "project_id")};

    return gf_reply_row(r, &gf_q_health_summary, p, 200, "project");
}
