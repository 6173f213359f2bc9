/* SPDX-License-Identifier: Apache-2.0
 *
 * step.c - one engine step of one rollout, in one transaction with its row locked (SKIP
 * LOCKED: with several replicas, the first to reach a rollout advances it, the others pass).
 * In order: a scheduled rollout whose start time came starts; the maintenance window pauses
 * or resumes it; in-flight targets past their deadline time out (or are retried, or skipped
 * when offline); failed ones with retries left go back to pending; the abort condition is
 * checked over all finished targets; the current wave's gate opens the next wave, pauses
 * for an operator or for a missed success condition, or ends the rollout; a continuous
 * rollout takes in newly matching nodes; and pending targets of open waves are notified,
 * within the rate limit (each node of a templated bundle with its own instance, rendered
 * and signed in this transaction). docs/internals/rollout.md has the state machines.
 */
#define GF_LOG_MODULE "rollout"

#include "engine.h"
#include "rollout.h"
#include "spec.h"

#include "../bundles/pernode.h"
#include "../bundles/published.h"
#include "../store/db.h"
#include "../store/q_bundles.h"
#include "../store/q_rollouts.h"
#include "alloc.h"
#include "log.h"
#include "timefmt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Target counts of one wave. */
struct wave_count {
    long total, applied, bad, done, skipped, pending; /* bad: failed, rolled back, timed out */
};

/* What the step needs of the locked row. */
struct ctx {
    struct gf_dbconn *db;
    const unsigned char *master; /* signs nodes' instances of a templated bundle */
    const char *id, *project, *bundle, *sha, *version, *state, *pause;
    int wave, templated, look_due;
    struct gf_rollout_spec s;
    json_t *spec;
    struct wave_count w[GF_ROLLOUT_WAVES_MAX];
    long notified_total, notified_minute;
    long notified; /* out: targets notified by this step */
};

static enum gf_err set(struct ctx *c, const char *state, const char *pause, const char *reason,
                       int wave, const char *kind, json_t *detail)
{
    enum gf_err err = gf_rollout_set(c->db, c->id, state, pause, reason, wave);

    if (err == GF_OK) {
        err = gf_rollout_event(c->db, c->id, kind, detail, 1);
    }
    json_decref(detail);
    c->state = state;
    c->pause = pause;
    c->wave = wave;
    gf_log_info("rollout state", "rollout=%s state=%s wave=%d reason=\"%s\"", c->id, state, wave,
                reason ? reason : "");
    return err;
}

/* The rollout cannot go on (reason): its pending targets cancelled with it, then failed. */
static enum gf_err fail(struct ctx *c, const char *reason)
{
    const char *p[2] = {c->id, reason};
    enum gf_err err = gf_db_exec(c->db, &gf_q_rollout_cancel_pending, p, NULL);

    return err != GF_OK ? err : set(c, "failed", NULL, reason, c->wave, "failed", NULL);
}

/* Is any maintenance window open now (each in its own time zone)? */
static int window_open(struct ctx *c)
{
    for (int i = 0; i < c->s.nwindows; i++) {
        const struct gf_rollout_window *w = &c->s.windows[i];
        const char *p[1] = {w->timezone};
        PGresult *res = NULL;
        struct gf_cron_time t;
        long v[5] = {0};
        int ok = gf_db_exec(c->db, &gf_q_local_time, p, &res) == GF_OK;
        char *at = ok ? PQgetvalue(res, 0, 0) : NULL;
        for (int k = 0; ok && k < 5; k++) { /* "YYYY MM DD HH24 MI" */
            char *end;
            v[k] = strtol(at, &end, 10);
            ok = end != at;
            at = end;
        }
        ok = ok &&
             gf_cron_time_set(&t, (int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4]) == GF_OK;
        PQclear(res);
        if (ok && gf_cron_window_open(&w->cron, &t, w->duration_min, NULL)) {
            return 1;
        }
    }
    return 0;
}

static enum gf_err counts(struct ctx *c)
{
    const char *p[1] = {c->id};
    PGresult *res = NULL;
    enum gf_err err;

    memset(c->w, 0, sizeof(c->w));
    if ((err = gf_db_exec(c->db, &gf_q_rollout_counts, p, &res)) != GF_OK) {
        return err;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        long wave = strtol(PQgetvalue(res, r, 0), NULL, 10);
        const char *st = PQgetvalue(res, r, 1);
        long n = strtol(PQgetvalue(res, r, 2), NULL, 10);
        if (wave < 0 || wave >= GF_ROLLOUT_WAVES_MAX) {
            continue;
        }
        struct wave_count *w = &c->w[wave];
        w->total += n;
        if (strcmp(st, "pending") == 0) {
            w->pending += n;
        } else if (strcmp(st, "applied") == 0) {
            w->applied += n;
            w->done += n;
        } else if (strcmp(st, "failed") == 0 || strcmp(st, "rolled_back") == 0 ||
                   strcmp(st, "timed_out") == 0) {
            w->bad += n;
            w->done += n;
        } else if (strcmp(st, "skipped") == 0 || strcmp(st, "cancelled") == 0) {
            w->skipped += n;
            w->done += n;
        }
    }
    PQclear(res);
    if (c->s.rate_per_min <= 0) {
        return GF_OK; /* no rate limit: nothing to count (a scan of every target) */
    }
    if ((err = gf_db_exec(c->db, &gf_q_rollout_rate, p, &res)) != GF_OK) {
        return err;
    }
    c->notified_minute = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    c->notified_total = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return GF_OK;
}

/* Timeouts and retries: in-flight targets past their deadline, failed ones with retries. */
static enum gf_err deadlines(struct ctx *c)
{
    char tr[16], fr[16], rr[16], bo[16];
    enum gf_err err;

    snprintf(tr, sizeof(tr), "%ld", c->s.retries_timed_out);
    snprintf(fr, sizeof(fr), "%ld", c->s.retries_failed);
    snprintf(rr, sizeof(rr), "%ld", c->s.retries_rolled_back);
    snprintf(bo, sizeof(bo), "%ld", c->s.backoff_s);
    const char *tp[4] = {c->id, tr, c->s.offline_skipped ? "true" : "false", bo};
    const char *rp[4] = {c->id, fr, rr, bo};
    if ((err = gf_db_exec(c->db, &gf_q_rollout_timeouts, tp, NULL)) != GF_OK) {
        return err;
    }
    return gf_db_exec(c->db, &gf_q_rollout_retries, rp, NULL);
}

/* The abort condition over every finished target: 1 when the rollout was stopped. */
static int aborted(struct ctx *c, enum gf_err *err)
{
    long done = 0, bad = 0;
    char reason[200];

    for (int i = 0; i < c->s.nwaves; i++) {
        done += c->w[i].applied + c->w[i].bad;
        bad += c->w[i].bad;
    }
    if (c->s.abort_percent < 0 || done < c->s.abort_min ||
        (double)bad * 100.0 <= c->s.abort_percent * (double)done) {
        return 0;
    }
    snprintf(reason, sizeof(reason),
             "aborted: %ld of %ld finished targets failed, rolled back or timed out (%.1f%% > "
             "%.1f%%)",
             bad, done, (double)bad * 100.0 / (double)done, c->s.abort_percent);
    const char *p[2] = {c->id, "rollout aborted by its failure threshold"};
    if ((*err = gf_db_exec(c->db, &gf_q_rollout_cancel_pending, p, NULL)) == GF_OK) {
        *err =
            set(c, "failed", NULL, reason, c->wave, "failed",
                json_pack("{s:I, s:I}", "finished", (json_int_t)done, "failed", (json_int_t)bad));
    }
    return 1;
}

/* The current wave's gate, repeated while waves open (an empty wave passes at once). */
static enum gf_err gate(struct ctx *c)
{
    char reason[200];

    while (strcmp(c->state, "running") == 0) {
        const struct gf_rollout_wave *x = &c->s.waves[c->wave];
        const struct wave_count *w = &c->w[c->wave];
        long counted = w->total - w->skipped;
        int ok = counted <= 0 || (double)w->applied * 100.0 >= x->success_percent * (double)counted;
        if (!ok) {
            if (w->done < w->total) {
                return GF_OK; /* still in flight */
            }
            snprintf(reason, sizeof(reason),
                     "wave %d missed its success condition: %ld of %ld applied, %.1f%% needed",
                     c->wave + 1, w->applied, counted, x->success_percent);
            return set(c, "paused", "threshold", reason, c->wave, "paused", NULL);
        }
        if (c->wave + 1 >= c->s.nwaves) {
            long total = 0, done = 0;
            for (int i = 0; i < c->s.nwaves; i++) {
                total += c->w[i].total;
                done += c->w[i].done;
            }
            if (done < total || c->s.continuous) {
                return GF_OK; /* the last wave runs on; a continuous rollout never ends alone */
            }
            return set(c, "succeeded", NULL, "every wave reached its success condition", c->wave,
                       "succeeded", NULL);
        }
        if (x->pause_after) {
            snprintf(reason, sizeof(reason),
                     "wave %d reached its success condition; waiting for an operator to resume",
                     c->wave + 1);
            return set(c, "paused", "wave", reason, c->wave, "paused", NULL);
        }
        enum gf_err err = set(c, "running", NULL, NULL, c->wave + 1, "wave_started",
                              json_pack("{s:i}", "started_wave", c->wave + 2));
        if (err != GF_OK) {
            return err;
        }
    }
    return GF_OK;
}

/* Render the picked targets' instances into t, up to a full batch; a target whose instance
 * cannot be made goes into failed ({n, e}) with the reason. */
static enum gf_err render_batch(struct gf_pernode *t, const PGresult *pick, json_t *failed)
{
    struct gf_diag d;
    enum gf_err err = GF_OK;

    for (int r = 0; err == GF_OK && r < PQntuples(pick); r++) {
        const char *node = PQgetvalue(pick, r, 0);
        gf_diag_clear(&d);
        err = gf_pernode_add(t, node, PQgetvalue(pick, r, 1), &d);
        if (err == GF_ERR_UNPROCESSABLE) {
            /* (a message cut inside a multi-byte path is not UTF-8: say less then) */
            json_t *f = json_pack("{s:s, s:s}", "n", node, "e", d.msg);
            f = f ? f : json_pack("{s:s, s:s}", "n", node, "e", "a template does not render");
            err = f != NULL && json_array_append_new(failed, f) == 0 ? GF_OK : GF_ERR_NOMEM;
        }
    }
    return err == GF_ERR_TOOBIG ? GF_OK : err; /* full: the rest wait for the next step */
}

/* Assign the rendered batch (the previous desired state kept, then the instances' files
 * stored) and fail the targets set aside. *notify_us receives when the assignment ended. */
static enum gf_err assign_batch(struct ctx *c, struct gf_pernode *t, const char *timeout,
                                const json_t *failed, int64_t *notify_us)
{
    PGresult *res = NULL;
    char *batch = NULL, *fails = NULL;
    enum gf_err err = GF_OK;

    *notify_us = gf_time_mono_us();
    if (gf_pernode_count(t) > 0) {
        if ((err = gf_pernode_batch_json(t, &batch)) != GF_OK) {
            goto out;
        }
        const char *p[5] = {c->id, c->bundle, c->version, timeout, batch};
        if ((err = gf_db_exec(c->db, &gf_q_rollout_notify_each, p, &res)) != GF_OK) {
            goto out;
        }
        *notify_us = gf_time_mono_us();
        if ((err = gf_pernode_store(t, c->db)) != GF_OK) {
            goto out;
        }
        c->notified = PQntuples(res);
    }
    if (json_array_size(failed) > 0) {
        if ((fails = json_dumps(failed, JSON_COMPACT)) == NULL) {
            err = GF_ERR_NOMEM;
            goto out;
        }
        const char *fp[2] = {c->id, fails};
        err = gf_db_exec(c->db, &gf_q_rollout_render_failed, fp, NULL);
    }
out:
    free(batch);
    free(fails);
    PQclear(res);
    return err;
}

/* Notify pending targets of a templated bundle: each due target's node gets its own
 * instance (bundles/pernode.h), rendered from its labels of now and signed, in batches of
 * GF_PERNODE_BATCH_BYTES. A target whose instance cannot be rendered fails with the
 * reason; its node's desired state stays as it was. Without a key to sign with, the
 * rollout fails. */
static enum gf_err notify_each(struct ctx *c, const PGresult *b, const char *const *pick_p,
                               const char *timeout)
{
    PGresult *pick = NULL;
    struct gf_pernode *t = NULL;
    json_t *failed = json_array();
    struct gf_diag d;
    int64_t t0 = 0, t1 = 0, t2 = 0;
    enum gf_err err;

    gf_diag_clear(&d);
    if (failed == NULL) {
        return GF_ERR_NOMEM;
    }
    if ((err = gf_db_exec(c->db, &gf_q_rollout_pick, pick_p, &pick)) != GF_OK ||
        PQntuples(pick) == 0) {
        goto out;
    }
    t0 = gf_time_mono_us();
    err = gf_pernode_open(c->db, c->master, b, c->bundle, &t, &d);
    if (err == GF_ERR_CONFLICT || err == GF_ERR_INTERNAL) {
        err = fail(c, d.msg[0] ? d.msg : "the templated bundle's stored manifest cannot be read");
        goto out;
    }
    if (err != GF_OK || (err = render_batch(t, pick, failed)) != GF_OK) {
        goto out;
    }
    t1 = gf_time_mono_us();
    if ((err = assign_batch(c, t, timeout, failed, &t2)) != GF_OK) {
        goto out;
    }
    gf_log_info("rollout instances made",
                "rollout=%s made=%zu failed=%zu render_ms=%.1f notify_ms=%.1f store_ms=%.1f "
                "first_error=\"%s\"",
                c->id, gf_pernode_count(t), json_array_size(failed), (double)(t1 - t0) / 1000.0,
                (double)(t2 - t1) / 1000.0, (double)(gf_time_mono_us() - t2) / 1000.0,
                json_array_size(failed) > 0
                    ? json_string_value(json_object_get(json_array_get(failed, 0), "e"))
                    : "");
out:
    json_decref(failed);
    gf_pernode_free(t);
    PQclear(pick);
    return err;
}

/* Notify pending targets of the open waves, within the rate limit. */
static enum gf_err notify(struct ctx *c)
{
    long allow = gf_rollout_allowance(&c->s, c->notified_total, c->notified_minute), pending = 0;
    char wave[16], limit[24], timeout[24];
    const char *bp[1] = {c->bundle};
    PGresult *b = NULL, *res = NULL;
    char *env = NULL;
    size_t envlen = 0;
    enum gf_err err;

    for (int i = 0; i <= c->wave; i++) {
        pending += c->w[i].pending;
    }
    if (allow <= 0 || pending == 0) {
        return GF_OK;
    }
    if (allow > GF_ROLLOUT_NOTIFY_BATCH) {
        allow = GF_ROLLOUT_NOTIFY_BATCH;
    }
    if ((err = gf_db_exec(c->db, &gf_q_bundle_signed, bp, &b)) != GF_OK) {
        return err;
    }
    /* Still assignable: signed, not expired, its key still trusted (published.h). */
    struct gf_diag d;
    gf_diag_clear(&d);
    if (PQntuples(b) != 1) {
        PQclear(b);
        return fail(c, "its bundle is no longer published");
    }
    if ((err = gf_bundle_usable(c->db, b, &d)) != GF_OK) {
        PQclear(b);
        return err == GF_ERR_CONFLICT ? fail(c, d.msg) : err;
    }
    snprintf(wave, sizeof(wave), "%d", c->wave);
    snprintf(limit, sizeof(limit), "%ld", allow);
    snprintf(timeout, sizeof(timeout), "%ld", c->s.node_timeout_s);
    if (c->templated) {
        const char *pp[3] = {c->id, wave, limit};
        err = notify_each(c, b, pp, timeout);
        PQclear(b);
        return err;
    }
    if ((err = gf_bundle_envelope(b, &env, &envlen)) != GF_OK) {
        PQclear(b);
        return err;
    }
    const char *p[8] = {c->id, wave, limit, c->bundle, env, c->sha, c->version, timeout};
    if ((err = gf_db_exec(c->db, &gf_q_rollout_notify, p, &res)) == GF_OK) {
        c->notified = PQntuples(res);
    }
    PQclear(res);
    PQclear(b);
    gf_free(env);
    return err;
}

enum gf_err gf_rollout_step(struct gf_dbconn *db, const unsigned char master[32], const char *id,
                            long *notified)
{
    const char *p[1] = {id};
    struct ctx c;
    PGresult *row = NULL;
    struct gf_diag d;
    enum gf_err err;

    *notified = 0;
    memset(&c, 0, sizeof(c));
    if ((err = gf_db_begin(db)) != GF_OK) {
        return err;
    }
    if ((err = gf_db_exec(db, &gf_q_rollout_lock, p, &row)) != GF_OK || PQntuples(row) != 1) {
        goto done; /* another replica has it, or it is gone */
    }
    c.db = db;
    c.master = master;
    c.id = id;
    c.project = PQgetvalue(row, 0, 1);
    c.bundle = PQgetvalue(row, 0, 3);
    c.state = PQgetvalue(row, 0, 4);
    c.pause = gf_db_val(row, 0, 5);
    c.wave = (int)strtol(PQgetvalue(row, 0, 8), NULL, 10);
    c.templated = strcmp(PQgetvalue(row, 0, 10), "t") == 0;
    c.sha = PQgetvalue(row, 0, 11);
    c.version = PQgetvalue(row, 0, 12);
    c.look_due = strcmp(PQgetvalue(row, 0, 14), "t") == 0;
    gf_diag_clear(&d);
    if ((c.spec = json_loads(PQgetvalue(row, 0, 6), 0, NULL)) == NULL ||
        gf_rollout_spec_parse(c.spec, &c.s, NULL, &d) != GF_OK) {
        err = set(&c, "failed", NULL, "the rollout's spec cannot be read", c.wave, "failed", NULL);
        goto done;
    }
    if (c.wave >= c.s.nwaves) {
        c.wave = c.s.nwaves - 1;
    }
    if (strcmp(c.state, "scheduled") == 0) {
        if (strcmp(PQgetvalue(row, 0, 9), "t") != 0 ||
            (err = set(&c, "running", NULL, "its start time came", c.wave, "started", NULL)) !=
                GF_OK) {
            goto done;
        }
    }
    if (c.s.nwindows > 0) {
        int open = window_open(&c);
        int window_paused =
            strcmp(c.state, "paused") == 0 && c.pause && strcmp(c.pause, "window") == 0;
        if (strcmp(c.state, "running") == 0 && !open) {
            err = set(&c, "paused", "window", "outside its maintenance windows", c.wave, "paused",
                      NULL);
        } else if (window_paused && open) {
            err = set(&c, "running", NULL, "a maintenance window opened", c.wave, "resumed", NULL);
        }
        if (err != GF_OK) {
            goto done;
        }
    }
    if (strcmp(c.state, "running") != 0 && strcmp(c.state, "paused") != 0) {
        goto done;
    }
    /* Running or paused alike: deadlines pass and statuses count. */
    if ((err = deadlines(&c)) != GF_OK || (err = counts(&c)) != GF_OK) {
        goto done;
    }
    if (aborted(&c, &err) || err != GF_OK || strcmp(c.state, "running") != 0) {
        goto done;
    }
    if (c.s.continuous && c.look_due) {
        long added = 0;
        const char *tp[2] = {id, "true"};
        if ((err = gf_rollout_snapshot(db, id, c.project, c.bundle, &c.s, c.spec, c.s.nwaves - 1,
                                       &added, &d)) != GF_OK ||
            (err = gf_db_exec(db, &gf_q_rollout_touch, tp, NULL)) != GF_OK) {
            goto done;
        }
        if (added > 0) {
            gf_rollout_event(db, id, "joined", json_pack("{s:I}", "nodes", (json_int_t)added), 1);
            if ((err = counts(&c)) != GF_OK) {
                goto done;
            }
        }
    }
    if ((err = gate(&c)) != GF_OK || strcmp(c.state, "running") != 0) {
        goto done;
    }
    err = notify(&c);
done:
    if (err == GF_OK && gf_db_in_tx(db)) {
        err = gf_db_commit(db);
    }
    if (err != GF_OK) {
        gf_db_rollback(db);
        gf_log_warn("rollout step failed", "rollout=%s error=%s", id, gf_err_str(err));
    } else {
        *notified = c.notified;
    }
    json_decref(c.spec);
    PQclear(row);
    return err;
}
