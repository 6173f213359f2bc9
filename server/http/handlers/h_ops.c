/* SPDX-License-Identifier: Apache-2.0
 *
 * h_ops.c - operations endpoints outside /api/v1: liveness (/healthz), readiness
 * (/readyz: the database answers and its schema is the one this binary expects), Prometheus
 * metrics (/metrics), and the OpenAPI document (/api/v1/openapi.json, embedded at build).
 */
#include "handlers.h"

#include "../../events/bus.h"
#include "../../mqtt/fleet.h"
#include "../../rollout/engine.h"
#include "../sse.h"

#include "../../core/app.h"
#include "../../store/migrate.h"
#include "../metrics.h"
#include "alloc.h"
#include "buf.h"

#include <stdio.h>
#include <string.h>

struct gf_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct gf_embedded_file gf_openapi[];

enum gf_err gf_h_healthz(struct gf_req *r)
{
    return gf_req_reply_text(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

enum gf_err gf_h_readyz(struct gf_req *r)
{
    struct gf_dbconn *db;
    int current = 0;
    char msg[128];

    if (gf_req_db(r, &db) != GF_OK || gf_migrate_current(db, &current) != GF_OK) {
        return gf_req_reply_text(r, 503, "text/plain; charset=utf-8", "database unreachable\n",
                                 21);
    }
    if (current != gf_migrate_latest()) {
        int n = snprintf(msg, sizeof(msg), "schema version %d, expected %d\n", current,
                         gf_migrate_latest());
        return gf_req_reply_text(r, 503, "text/plain; charset=utf-8", msg, (size_t)n);
    }
    return gf_req_reply_text(r, 200, "text/plain; charset=utf-8", "ready\n", 6);
}

enum gf_err gf_h_metrics(struct gf_req *r)
{
    struct gf_app *app = gf_req_app(r);
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, 8u * 1024u * 1024u);
    err = gf_metrics_render(app->metrics, app->db, &b);
    if (err == GF_OK && app->fleet != NULL) {
        err = gf_fleet_metrics(app->fleet, &b);
    }
    if (err == GF_OK) {
        err = gf_rollout_engine_metrics(app->rollouts, &b);
    }
    if (err == GF_OK) {
        err = gf_event_bus_metrics(app->events, &b);
    }
    if (err == GF_OK) {
        err = gf_sse_hub_metrics(app->sse, &b);
    }
    if (err != GF_OK) {
        gf_buf_free(&b);
        return err;
    }
    size_t len = b.len;
    return gf_req_reply_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                              gf_buf_steal(&b, NULL), len);
}

enum gf_err gf_h_openapi(struct gf_req *r)
{
    return gf_req_reply_text(r, 200, "application/json", (const char *)gf_openapi[0].data,
                             gf_openapi[0].len);
}
