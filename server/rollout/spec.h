/* SPDX-License-Identifier: Apache-2.0
 *
 * spec.h - what a rollout is asked to do: the body of POST /projects/{id}/rollouts checked
 * field by field into a plain struct, and into the normalised JSON kept in rollouts.spec.
 * The engine reads its rollouts back through the same function, so what was accepted is
 * exactly what runs. docs/rollouts.md has the fields; defaults:
 *   waves          [{"percent": 100}]; each {"nodes": N} or {"percent": P} is the share of
 *                  the targets reached by the end of that wave (cumulative), the last wave
 *                  always takes the rest; "success_percent" (100) of a wave's targets must
 *                  be applied before "then" ("continue", or "pause" for an operator);
 *   abort          none; {"failure_percent": Y, "min_finished": N (1)};
 *   rate           none; {"per_minute": M, "ramp": {"start_per_minute", "factor",
 *                  "every_notified"}} (AWS IoT Jobs' exponential rollout);
 *   node_timeout_s 3600; "offline" "timed_out" (or "skipped": what an offline node whose
 *                  deadline passed becomes);
 *   retries        {"failed": 0, "rolled_back": 0, "timed_out": 0, "backoff_s": 60};
 *   windows        none; [{"cron", "duration_minutes", "timezone"}] (cron.h);
 *   target         {"selector"?, "node_ids"?, "continuous": false} (one of the first two).
 */
#ifndef GF_SERVER_ROLLOUT_SPEC_H
#define GF_SERVER_ROLLOUT_SPEC_H

#include "cron.h"
#include "err.h"

#include <jansson.h>

#define GF_ROLLOUT_WAVES_MAX 16
#define GF_ROLLOUT_WINDOWS_MAX 8
#define GF_ROLLOUT_NODE_IDS_MAX 10000

struct gf_rollout_wave {
    long nodes;             /* > 0: cumulative node count */
    double percent;         /* else: cumulative share of the targets */
    double success_percent; /* of the wave's targets (skipped ones aside) applied */
    int pause_after;        /* "then": "pause" */
};

struct gf_rollout_window {
    struct gf_cron cron;
    int duration_min;
    char timezone[64];
};

/* Plain value struct. */
struct gf_rollout_spec {
    struct gf_rollout_wave waves[GF_ROLLOUT_WAVES_MAX];
    int nwaves;
    double abort_percent; /* < 0: no abort condition */
    long abort_min;
    long rate_per_min; /* 0: no limit */
    long ramp_start, ramp_every;
    double ramp_factor; /* 0: no ramp */
    long node_timeout_s;
    int offline_skipped;
    long retries_failed, retries_rolled_back, retries_timed_out, backoff_s;
    struct gf_rollout_window windows[GF_ROLLOUT_WINDOWS_MAX];
    int nwindows;
    int continuous;
};

/* Check a request body (fields "waves", "abort", "rate", "node_timeout_s", "offline",
 * "retries", "windows", "target"; the caller checks the others) into *s and, when norm is
 * not NULL, the normalised JSON with defaults filled in (caller owns). GF_ERR_INVAL with
 * diag naming the JSON pointer of the first bad field. Time zones are checked by the
 * caller (PostgreSQL knows them). */
enum gf_err gf_rollout_spec_parse(const json_t *body, struct gf_rollout_spec *s, json_t **norm,
                                  struct gf_diag *diag);

/* The cumulative target count at the end of wave w of a rollout with total targets. */
long gf_rollout_wave_end(const struct gf_rollout_spec *s, int w, long total);

/* How many nodes may be notified now: rate limit and ramp after notified_total notifications,
 * minus those notified in the last minute. LONG_MAX without a rate. */
long gf_rollout_allowance(const struct gf_rollout_spec *s, long notified_total,
                          long notified_last_minute);

#endif
