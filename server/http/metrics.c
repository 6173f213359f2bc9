/* SPDX-License-Identifier: Apache-2.0
 *
 * metrics.c - per-route counters by status code and latency histograms.
 */
#include "metrics.h"

#include "alloc.h"
#include "../store/db.h"
#include "router.h"

#include <stdatomic.h>
#include <string.h>

static const unsigned codes[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                                 412, 413, 415, 422, 429, 500, 503, 504};
#define NCODES (sizeof(codes) / sizeof(codes[0]))
#define SLOT_OTHER NCODES

static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,   1,    2.5,   5,    10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct route_stats {
    atomic_ulong by_code[NCODES + 1];
    atomic_ulong hist[NBUCKETS]; /* non-cumulative; summed when rendering */
    atomic_ulong count;
    atomic_ullong sum_us;
};

struct gf_metrics {
    size_t nroutes;
    atomic_long inflight;
    struct route_stats *routes; /* nroutes + 1 (unmatched) */
};

struct gf_metrics *gf_metrics_new(size_t nroutes)
{
    struct gf_metrics *m = gf_calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->routes = gf_calloc(nroutes + 1, sizeof(*m->routes));
    if (m->routes == NULL) {
        gf_free(m);
        return NULL;
    }
    m->nroutes = nroutes;
    return m;
}

void gf_metrics_free(struct gf_metrics *m)
{
    if (m != NULL) {
        gf_free(m->routes);
        gf_free(m);
    }
}

void gf_metrics_observe(struct gf_metrics *m, size_t route, unsigned status, int64_t micros)
{
    struct route_stats *s = &m->routes[route < m->nroutes ? route : m->nroutes];
    size_t slot = SLOT_OTHER;
    double secs = (double)micros / 1e6;

    for (size_t i = 0; i < NCODES; i++) {
        if (codes[i] == status) {
            slot = i;
            break;
        }
    }
    atomic_fetch_add(&s->by_code[slot], 1);
    for (size_t b = 0; b < NBUCKETS; b++) {
        if (secs <= buckets[b]) {
            atomic_fetch_add(&s->hist[b], 1);
            break;
        }
    }
    atomic_fetch_add(&s->count, 1);
    atomic_fetch_add(&s->sum_us, (unsigned long long)(micros > 0 ? micros : 0));
}

void gf_metrics_inflight(struct gf_metrics *m, int delta)
{
    atomic_fetch_add(&m->inflight, delta);
}

long gf_metrics_inflight_now(struct gf_metrics *m)
{
    return atomic_load(&m->inflight);
}

static void route_label(const struct gf_metrics *m, size_t i, char *out, size_t cap)
{
    if (i < m->nroutes) {
        snprintf(out, cap, "method=\"%s\",route=\"%s\"", gf_method_name(gf_routes[i].method),
                 gf_routes[i].pattern);
    } else {
        snprintf(out, cap, "method=\"\",route=\"unmatched\"");
    }
}

static enum gf_err render_requests(struct gf_metrics *m, struct gf_buf *o)
{
    enum gf_err err = gf_buf_puts(o, "# HELP gf_http_requests_total HTTP requests by route and "
                                     "status.\n# TYPE gf_http_requests_total counter\n");
    char lbl[256];

    for (size_t i = 0; err == GF_OK && i <= m->nroutes; i++) {
        route_label(m, i, lbl, sizeof(lbl));
        for (size_t c = 0; err == GF_OK && c <= NCODES; c++) {
            unsigned long v = atomic_load(&m->routes[i].by_code[c]);
            if (v == 0) {
                continue;
            }
            if (c < NCODES) {
                err = gf_buf_printf(o, "gf_http_requests_total{%s,status=\"%u\"} %lu\n", lbl,
                                    codes[c], v);
            } else {
                err = gf_buf_printf(o, "gf_http_requests_total{%s,status=\"other\"} %lu\n", lbl,
                                    v);
            }
        }
    }
    return err;
}

static enum gf_err render_latency(struct gf_metrics *m, struct gf_buf *o)
{
    enum gf_err err = gf_buf_puts(o, "# HELP gf_http_request_duration_seconds Request latency."
                                     "\n# TYPE gf_http_request_duration_seconds histogram\n");
    char lbl[256];

    for (size_t i = 0; err == GF_OK && i <= m->nroutes; i++) {
        struct route_stats *s = &m->routes[i];
        unsigned long count = atomic_load(&s->count);
        unsigned long cum = 0;
        if (count == 0) {
            continue;
        }
        route_label(m, i, lbl, sizeof(lbl));
        for (size_t b = 0; err == GF_OK && b < NBUCKETS; b++) {
            cum += atomic_load(&s->hist[b]);
            err = gf_buf_printf(o, "gf_http_request_duration_seconds_bucket{%s,le=\"%g\"} %lu\n",
                                lbl, buckets[b], cum);
        }
        if (err == GF_OK) {
            err = gf_buf_printf(o,
                                "gf_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %lu\n"
                                "gf_http_request_duration_seconds_sum{%s} %.6f\n"
                                "gf_http_request_duration_seconds_count{%s} %lu\n",
                                lbl, count, lbl, (double)atomic_load(&s->sum_us) / 1e6, lbl,
                                count);
        }
    }
    return err;
}

enum gf_err gf_metrics_render(struct gf_metrics *m, struct gf_db *db, struct gf_buf *o)
{
    enum gf_err err = render_requests(m, o);

    if (err == GF_OK) {
        err = render_latency(m, o);
    }
    if (err == GF_OK) {
        err = gf_buf_printf(o,
                            "# HELP gf_http_requests_in_flight Requests being served.\n"
                            "# TYPE gf_http_requests_in_flight gauge\n"
                            "gf_http_requests_in_flight %ld\n",
                            atomic_load(&m->inflight));
    }
    if (err == GF_OK && db != NULL) {
        struct gf_db_stats st;
        gf_db_stats(db, &st);
        err = gf_buf_printf(
            o,
            "# HELP gf_db_pool_size Configured database connections.\n"
            "# TYPE gf_db_pool_size gauge\ngf_db_pool_size %d\n"
            "# HELP gf_db_pool_open Open database connections.\n"
            "# TYPE gf_db_pool_open gauge\ngf_db_pool_open %d\n"
            "# HELP gf_db_pool_in_use Connections lent to requests.\n"
            "# TYPE gf_db_pool_in_use gauge\ngf_db_pool_in_use %d\n"
            "# HELP gf_db_pool_acquires_total Connection acquisitions.\n"
            "# TYPE gf_db_pool_acquires_total counter\ngf_db_pool_acquires_total %lu\n"
            "# HELP gf_db_pool_waits_total Acquisitions that waited for a free connection.\n"
            "# TYPE gf_db_pool_waits_total counter\ngf_db_pool_waits_total %lu\n"
            "# HELP gf_db_pool_timeouts_total Acquisitions that gave up (503).\n"
            "# TYPE gf_db_pool_timeouts_total counter\ngf_db_pool_timeouts_total %lu\n",
            st.size, st.open, st.in_use, st.acquires, st.waits, st.timeouts);
    }
    return err;
}
