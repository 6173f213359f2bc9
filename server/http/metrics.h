/* SPDX-License-Identifier: Apache-2.0
 *
 * metrics.h - request counters and latency histograms per route, rendered in the
 * Prometheus text format by GET /metrics together with the database pool gauges.
 * Recording is lock-free (C11 atomics) and safe from every request thread.
 */
#ifndef GF_SERVER_METRICS_H
#define GF_SERVER_METRICS_H

#include "buf.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gf_metrics;
struct gf_db;

/* Registry for nroutes routes (+1 slot for unmatched paths). Caller owns (gf_metrics_free). */
struct gf_metrics *gf_metrics_new(size_t nroutes);
void gf_metrics_free(struct gf_metrics *m);

/* Count one request. route is an index into gf_routes or (size_t)-1 for unmatched. */
void gf_metrics_observe(struct gf_metrics *m, size_t route, unsigned status, int64_t micros);

/* In-flight requests gauge. */
void gf_metrics_inflight(struct gf_metrics *m, int delta);
long gf_metrics_inflight_now(struct gf_metrics *m);

/* Render everything (db may be NULL). GF_ERR_TOOBIG/NOMEM from the buffer. */
enum gf_err gf_metrics_render(struct gf_metrics *m, struct gf_db *db, struct gf_buf *out);

#endif
