/* SPDX-License-Identifier: Apache-2.0
 *
 * spec.c - checking and normalising a rollout's request (see spec.h). Each part has its
 * own reader; every error names the JSON pointer of the field it is about.
 */
#include "spec.h"

#include "ids.h"
#include "selector.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static enum gf_err bad(struct gf_diag *d, const char *where, const char *msg)
{
    return gf_diag_set(d, GF_ERR_INVAL, where, "%s", msg);
}

/* An integer member in [min, max], or def when absent. */
static enum gf_err int_of(const json_t *o, const char *key, long min, long max, long def, long *out,
                          const char *where, struct gf_diag *d)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        *out = def;
        return GF_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return gf_diag_set(d, GF_ERR_INVAL, where, "%s must be an integer from %ld to %ld", where,
                           min, max);
    }
    *out = (long)json_integer_value(v);
    return GF_OK;
}

/* A number member in [min, max], or def when absent. */
static enum gf_err num_of(const json_t *o, const char *key, double min, double max, double def,
                          double *out, const char *where, struct gf_diag *d)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        *out = def;
        return GF_OK;
    }
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
        return gf_diag_set(d, GF_ERR_INVAL, where, "%s must be a number from %g to %g", where, min,
                           max);
    }
    *out = json_number_value(v);
    return GF_OK;
}

/* Only the named members: an unknown one is an error (a typo must not pass silently). */
static enum gf_err only(const json_t *o, const char *const *keys, const char *where,
                        struct gf_diag *d)
{
    const char *k;
    const json_t *v;

    if (!json_is_object(o)) {
        return gf_diag_set(d, GF_ERR_INVAL, where, "%s must be an object", where);
    }
    json_object_foreach((json_t *)o, k, v)
    {
        int known = 0;
        for (const char *const *p = keys; *p != NULL; p++) {
            known |= strcmp(*p, k) == 0;
        }
        if (!known) {
            return gf_diag_set(d, GF_ERR_INVAL, where, "%s/%s is not a known field", where, k);
        }
    }
    return GF_OK;
}

static enum gf_err waves_of(const json_t *waves, struct gf_rollout_spec *s, json_t *norm,
                            struct gf_diag *d)
{
    static const char *const keys[] = {"nodes", "percent", "success_percent", "then", NULL};
    char where[48];
    json_t *out = json_array();
    double last_percent = 0;
    long last_nodes = 0;
    size_t i;
    const json_t *w;
    enum gf_err err = GF_OK;

    if (waves == NULL) {
        s->nwaves = 1;
        s->waves[0] = (struct gf_rollout_wave){0, 100, 100, 0};
        json_array_append_new(out, json_pack("{s:f, s:f, s:s}", "percent", 100.0, "success_percent",
                                             100.0, "then", "continue"));
        json_object_set_new(norm, "waves", out);
        return GF_OK;
    }
    if (!json_is_array(waves) || json_array_size(waves) < 1 ||
        json_array_size(waves) > GF_ROLLOUT_WAVES_MAX) {
        json_decref(out);
        return gf_diag_set(d, GF_ERR_INVAL, "/waves", "/waves must be an array of 1 to %d waves",
                           GF_ROLLOUT_WAVES_MAX);
    }
    json_array_foreach(waves, i, w)
    {
        struct gf_rollout_wave *x = &s->waves[i];
        const json_t *then = json_object_get(w, "then");
        snprintf(where, sizeof(where), "/waves/%zu", i);
        if ((err = only(w, keys, where, d)) != GF_OK) {
            break;
        }
        int has_nodes = json_object_get(w, "nodes") != NULL;
        int has_percent = json_object_get(w, "percent") != NULL;
        if (has_nodes == has_percent) {
            err = gf_diag_set(d, GF_ERR_INVAL, where, "%s needs exactly one of nodes, percent",
                              where);
            break;
        }
        snprintf(where, sizeof(where), "/waves/%zu/%s", i, has_nodes ? "nodes" : "percent");
        x->nodes = 0;
        x->percent = 0;
        if ((has_nodes &&
             (err = int_of(w, "nodes", 1, 1000000, 0, &x->nodes, where, d)) != GF_OK) ||
            (has_percent &&
             (err = num_of(w, "percent", 0.001, 100, 0, &x->percent, where, d)) != GF_OK)) {
            break;
        }
        if ((has_nodes && x->nodes <= last_nodes) || (has_percent && x->percent <= last_percent)) {
            err = gf_diag_set(d, GF_ERR_INVAL, where,
                              "%s must be above the previous wave's (waves are cumulative)", where);
            break;
        }
        last_nodes = has_nodes ? x->nodes : last_nodes;
        last_percent = has_percent ? x->percent : last_percent;
        snprintf(where, sizeof(where), "/waves/%zu/success_percent", i);
        if ((err = num_of(w, "success_percent", 0, 100, 100, &x->success_percent, where, d)) !=
            GF_OK) {
            break;
        }
        if (then != NULL &&
            (!json_is_string(then) || (strcmp(json_string_value(then), "pause") &&
                                       strcmp(json_string_value(then), "continue")))) {
            snprintf(where, sizeof(where), "/waves/%zu/then", i);
            err =
                gf_diag_set(d, GF_ERR_INVAL, where, "%s must be \"continue\" or \"pause\"", where);
            break;
        }
        x->pause_after = then != NULL && strcmp(json_string_value(then), "pause") == 0;
        json_t *o = has_nodes ? json_pack("{s:I}", "nodes", (json_int_t)x->nodes)
                              : json_pack("{s:f}", "percent", x->percent);
        json_object_set_new(o, "success_percent", json_real(x->success_percent));
        json_object_set_new(o, "then", json_string(x->pause_after ? "pause" : "continue"));
        json_array_append_new(out, o);
        s->nwaves = (int)i + 1;
    }
    if (err != GF_OK) {
        json_decref(out);
        return err;
    }
    json_object_set_new(norm, "waves", out);
    return GF_OK;
}

static enum gf_err abort_rate_of(const json_t *body, struct gf_rollout_spec *s, json_t *norm,
                                 struct gf_diag *d)
{
    static const char *const akeys[] = {"failure_percent", "min_finished", NULL};
    static const char *const rkeys[] = {"per_minute", "ramp", NULL};
    static const char *const pkeys[] = {"start_per_minute", "factor", "every_notified", NULL};
    const json_t *ab = json_object_get(body, "abort"), *rate = json_object_get(body, "rate");
    enum gf_err err;

    s->abort_percent = -1;
    s->abort_min = 1;
    if (ab != NULL && !json_is_null(ab)) {
        if ((err = only(ab, akeys, "/abort", d)) != GF_OK) {
            return err;
        }
        if (json_object_get(ab, "failure_percent") == NULL) {
            return bad(d, "/abort/failure_percent", "/abort/failure_percent is required");
        }
        if ((err = num_of(ab, "failure_percent", 0, 100, 0, &s->abort_percent,
                          "/abort/failure_percent", d)) != GF_OK ||
            (err = int_of(ab, "min_finished", 1, 1000000, 1, &s->abort_min, "/abort/min_finished",
                          d)) != GF_OK) {
            return err;
        }
        json_object_set_new(norm, "abort",
                            json_pack("{s:f, s:I}", "failure_percent", s->abort_percent,
                                      "min_finished", (json_int_t)s->abort_min));
    }
    s->rate_per_min = 0;
    s->ramp_factor = 0;
    if (rate != NULL && !json_is_null(rate)) {
        const json_t *ramp = json_object_get(rate, "ramp");
        if ((err = only(rate, rkeys, "/rate", d)) != GF_OK ||
            (err = int_of(rate, "per_minute", 1, 1000000, 0, &s->rate_per_min, "/rate/per_minute",
                          d)) != GF_OK) {
            return err;
        }
        if (s->rate_per_min == 0) {
            return bad(d, "/rate/per_minute", "/rate/per_minute is required");
        }
        json_t *r = json_pack("{s:I}", "per_minute", (json_int_t)s->rate_per_min);
        if (ramp != NULL && !json_is_null(ramp)) {
            if ((err = only(ramp, pkeys, "/rate/ramp", d)) != GF_OK ||
                (err = int_of(ramp, "start_per_minute", 1, s->rate_per_min, 1, &s->ramp_start,
                              "/rate/ramp/start_per_minute", d)) != GF_OK ||
                (err = num_of(ramp, "factor", 1.01, 5, 2, &s->ramp_factor, "/rate/ramp/factor",
                              d)) != GF_OK ||
                (err = int_of(ramp, "every_notified", 1, 1000000, 10, &s->ramp_every,
                              "/rate/ramp/every_notified", d)) != GF_OK) {
                json_decref(r);
                return err;
            }
            json_object_set_new(r, "ramp",
                                json_pack("{s:I, s:f, s:I}", "start_per_minute",
                                          (json_int_t)s->ramp_start, "factor", s->ramp_factor,
                                          "every_notified", (json_int_t)s->ramp_every));
        }
        json_object_set_new(norm, "rate", r);
    }
    return GF_OK;
}

static enum gf_err timing_of(const json_t *body, struct gf_rollout_spec *s, json_t *norm,
                             struct gf_diag *d)
{
    static const char *const rkeys[] = {"failed", "rolled_back", "timed_out", "backoff_s", NULL};
    const json_t *off = json_object_get(body, "offline"), *re = json_object_get(body, "retries");
    enum gf_err err;

    if ((err = int_of(body, "node_timeout_s", 10, 30 * 86400, 3600, &s->node_timeout_s,
                      "/node_timeout_s", d)) != GF_OK) {
        return err;
    }
    if (off != NULL && (!json_is_string(off) || (strcmp(json_string_value(off), "timed_out") &&
                                                 strcmp(json_string_value(off), "skipped")))) {
        return bad(d, "/offline", "/offline must be \"timed_out\" or \"skipped\"");
    }
    s->offline_skipped = off != NULL && strcmp(json_string_value(off), "skipped") == 0;
    json_t *empty = json_object();
    if (re == NULL || json_is_null(re)) {
        re = empty;
    }
    if ((err = only(re, rkeys, "/retries", d)) != GF_OK ||
        (err = int_of(re, "failed", 0, 10, 0, &s->retries_failed, "/retries/failed", d)) != GF_OK ||
        (err = int_of(re, "rolled_back", 0, 10, 0, &s->retries_rolled_back, "/retries/rolled_back",
                      d)) != GF_OK ||
        (err = int_of(re, "timed_out", 0, 10, 0, &s->retries_timed_out, "/retries/timed_out", d)) !=
            GF_OK ||
        (err = int_of(re, "backoff_s", 0, 86400, 60, &s->backoff_s, "/retries/backoff_s", d)) !=
            GF_OK) {
        json_decref(empty);
        return err;
    }
    json_decref(empty);
    json_object_set_new(norm, "node_timeout_s", json_integer(s->node_timeout_s));
    json_object_set_new(norm, "offline", json_string(s->offline_skipped ? "skipped" : "timed_out"));
    json_object_set_new(norm, "retries",
                        json_pack("{s:I, s:I, s:I, s:I}", "failed", (json_int_t)s->retries_failed,
                                  "rolled_back", (json_int_t)s->retries_rolled_back, "timed_out",
                                  (json_int_t)s->retries_timed_out, "backoff_s",
                                  (json_int_t)s->backoff_s));
    return GF_OK;
}

static enum gf_err windows_of(const json_t *windows, struct gf_rollout_spec *s, json_t *norm,
                              struct gf_diag *d)
{
    static const char *const keys[] = {"cron", "duration_minutes", "timezone", NULL};
    char where[48];
    size_t i;
    const json_t *w;
    enum gf_err err;

    s->nwindows = 0;
    if (windows == NULL || json_is_null(windows)) {
        return GF_OK;
    }
    if (!json_is_array(windows) || json_array_size(windows) < 1 ||
        json_array_size(windows) > GF_ROLLOUT_WINDOWS_MAX) {
        return gf_diag_set(d, GF_ERR_INVAL, "/windows",
                           "/windows must be an array of 1 to %d windows", GF_ROLLOUT_WINDOWS_MAX);
    }
    json_t *out = json_array();
    json_array_foreach(windows, i, w)
    {
        struct gf_rollout_window *x = &s->windows[i];
        const json_t *tz = json_object_get(w, "timezone");
        long dur = 0;
        snprintf(where, sizeof(where), "/windows/%zu", i);
        if ((err = only(w, keys, where, d)) != GF_OK) {
            goto fail;
        }
        snprintf(where, sizeof(where), "/windows/%zu/cron", i);
        const char *cron = json_string_value(json_object_get(w, "cron"));
        struct gf_diag cd;
        gf_diag_clear(&cd);
        if (cron == NULL || gf_cron_parse(cron, &x->cron, &cd) != GF_OK) {
            err = gf_diag_set(d, GF_ERR_INVAL, where, "%s: %s", where,
                              cron ? cd.msg : "a cron expression is required");
            goto fail;
        }
        snprintf(where, sizeof(where), "/windows/%zu/duration_minutes", i);
        if (json_object_get(w, "duration_minutes") == NULL) {
            err = gf_diag_set(d, GF_ERR_INVAL, where, "%s is required", where);
            goto fail;
        }
        if ((err = int_of(w, "duration_minutes", 1, 10080, 0, &dur, where, d)) != GF_OK) {
            goto fail;
        }
        x->duration_min = (int)dur;
        snprintf(where, sizeof(where), "/windows/%zu/timezone", i);
        if (tz != NULL && (!json_is_string(tz) || json_string_length(tz) < 1 ||
                           json_string_length(tz) >= sizeof(x->timezone))) {
            err = gf_diag_set(d, GF_ERR_INVAL, where, "%s must be a time zone name", where);
            goto fail;
        }
        snprintf(x->timezone, sizeof(x->timezone), "%s", tz ? json_string_value(tz) : "UTC");
        json_array_append_new(out, json_pack("{s:s, s:i, s:s}", "cron", cron, "duration_minutes",
                                             x->duration_min, "timezone", x->timezone));
        s->nwindows = (int)i + 1;
    }
    json_object_set_new(norm, "windows", out);
    return GF_OK;
fail:
    json_decref(out);
    return err;
}

static enum gf_err target_of(const json_t *t, struct gf_rollout_spec *s, json_t *norm,
                             struct gf_diag *d)
{
    /* selector_json: in the normalised spec (compiled again from selector, never trusted) */
    static const char *const keys[] = {"selector", "node_ids", "continuous", "selector_json", NULL};
    const json_t *sel, *ids, *cont;
    json_t *compiled = NULL;
    size_t i;
    const json_t *v;
    enum gf_err err;

    if (t == NULL) {
        return bad(d, "/target", "/target is required");
    }
    if ((err = only(t, keys, "/target", d)) != GF_OK) {
        return err;
    }
    sel = json_object_get(t, "selector");
    ids = json_object_get(t, "node_ids");
    cont = json_object_get(t, "continuous");
    if (sel == NULL && ids == NULL) {
        return bad(d, "/target", "/target needs a selector, node_ids or both");
    }
    json_t *out = json_object();
    if (sel != NULL) {
        if (!json_is_string(sel) ||
            gf_selector_compile(json_string_value(sel), &compiled, d) != GF_OK) {
            json_decref(out);
            if (json_is_string(sel)) {
                d->where[0] = '\0';
                snprintf(d->where, sizeof(d->where), "/target/selector");
                return GF_ERR_INVAL;
            }
            return bad(d, "/target/selector", "/target/selector must be a label selector");
        }
        json_object_set(out, "selector", (json_t *)sel);
        json_object_set_new(out, "selector_json", compiled);
    }
    if (ids != NULL) {
        if (!json_is_array(ids) || json_array_size(ids) > GF_ROLLOUT_NODE_IDS_MAX) {
            json_decref(out);
            return gf_diag_set(d, GF_ERR_INVAL, "/target/node_ids",
                               "/target/node_ids must be an array of at most %d node ids",
                               GF_ROLLOUT_NODE_IDS_MAX);
        }
        json_array_foreach(ids, i, v)
        {
            if (!json_is_string(v) || !gf_uuid_valid(json_string_value(v))) {
                json_decref(out);
                return gf_diag_set(d, GF_ERR_INVAL, "/target/node_ids",
                                   "/target/node_ids/%zu is not a node id", i);
            }
        }
        json_object_set(out, "node_ids", (json_t *)ids);
    }
    if (cont != NULL && !json_is_boolean(cont)) {
        json_decref(out);
        return bad(d, "/target/continuous", "/target/continuous must be true or false");
    }
    s->continuous = json_is_true(cont);
    json_object_set_new(out, "continuous", json_boolean(s->continuous));
    json_object_set_new(norm, "target", out);
    return GF_OK;
}

enum gf_err gf_rollout_spec_parse(const json_t *body, struct gf_rollout_spec *s, json_t **norm,
                                  struct gf_diag *diag)
{
    json_t *n = json_object();
    enum gf_err err;

    memset(s, 0, sizeof(*s));
    if (n == NULL) {
        return GF_ERR_NOMEM;
    }
    if ((err = target_of(json_object_get(body, "target"), s, n, diag)) != GF_OK ||
        (err = waves_of(json_object_get(body, "waves"), s, n, diag)) != GF_OK ||
        (err = abort_rate_of(body, s, n, diag)) != GF_OK ||
        (err = timing_of(body, s, n, diag)) != GF_OK ||
        (err = windows_of(json_object_get(body, "windows"), s, n, diag)) != GF_OK) {
        json_decref(n);
        return err;
    }
    if (norm != NULL) {
        *norm = n;
    } else {
        json_decref(n);
    }
    return GF_OK;
}

long gf_rollout_wave_end(const struct gf_rollout_spec *s, int w, long total)
{
    if (w >= s->nwaves - 1) {
        return total; /* the last wave takes the rest */
    }
    const struct gf_rollout_wave *x = &s->waves[w];
    long n = x->nodes > 0 ? x->nodes : (long)ceil(x->percent * (double)total / 100.0);
    return n < total ? n : total;
}

long gf_rollout_allowance(const struct gf_rollout_spec *s, long notified_total,
                          long notified_last_minute)
{
    if (s->rate_per_min <= 0) {
        return LONG_MAX;
    }
    double rate = (double)s->rate_per_min;
    if (s->ramp_factor > 1 && s->ramp_every > 0) {
        double steps = (double)(notified_total / s->ramp_every);
        double r = (double)s->ramp_start * pow(s->ramp_factor, steps > 60 ? 60 : steps);
        rate = r < rate ? r : rate;
    }
    long left = (long)rate - notified_last_minute;
    return left > 0 ? left : 0;
}
