/* SPDX-License-Identifier: Apache-2.0
 *
 * control.c - target snapshot, operator actions and events of one rollout (see rollout.h).
 * Callers hold the rollout's row lock (SELECT ... FOR UPDATE) in their transaction, so an
 * engine tick and an operator action never interleave on one rollout.
 */
#define GF_LOG_MODULE "rollout"

#include "rollout.h"

#include "../store/db.h"
#include "../store/q_rollouts.h"
#include "buf.h"
#include "log.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* node_ids as a PostgreSQL uuid[] literal (they are checked uuids), NULL when absent. */
static enum gf_err ids_literal(const json_t *ids, struct gf_buf *out)
{
    size_t i;
    const json_t *v;

    if (ids == NULL) {
        return GF_OK;
    }
    if (gf_buf_puts(out, "{") != GF_OK) {
        return GF_ERR_NOMEM;
    }
    json_array_foreach(ids, i, v)
    {
        if (gf_buf_printf(out, "%s%s", i ? "," : "", json_string_value(v)) != GF_OK) {
            return GF_ERR_NOMEM;
        }
    }
    return gf_buf_puts(out, "}") == GF_OK ? GF_OK : GF_ERR_NOMEM;
}

/* The holders of the candidates, for a refused start: GF_ERR_CONFLICT with diag. */
static enum gf_err conflicts(struct gf_dbconn *db, const char *const *p, struct gf_diag *diag)
{
    PGresult *res = NULL;
    struct gf_buf m;
    enum gf_err err = gf_db_exec(db, &gf_q_rollout_conflicts, p, &res);

    if (err != GF_OK) {
        return err;
    }
    gf_buf_init(&m, sizeof(diag->msg) - 1);
    for (int r = 0; r < PQntuples(res); r++) {
        gf_buf_printf(&m, "%s%s (rollout %s)", r ? ", " : "", PQgetvalue(res, r, 0),
                      PQgetvalue(res, r, 1));
    }
    err = gf_diag_set(diag, GF_ERR_CONFLICT, "/target",
                      "nodes already in another active rollout: %s", m.data ? m.data : "");
    gf_buf_free(&m);
    PQclear(res);
    return err;
}

enum gf_err gf_rollout_snapshot(struct gf_dbconn *db, const char *id, const char *project,
                                const char *bundle, const struct gf_rollout_spec *s,
                                const json_t *spec, int first_wave, long *added,
                                struct gf_diag *diag)
{
    const json_t *target = json_object_get(spec, "target");
    char *sel = NULL, first[16];
    struct gf_buf ids, nodes, pcts;
    PGresult *res = NULL;
    enum gf_err err;

    *added = 0;
    gf_buf_init(&ids, (size_t)GF_ROLLOUT_NODE_IDS_MAX * 40 + 8);
    gf_buf_init(&nodes, 512);
    gf_buf_init(&pcts, 1024);
    if (json_object_get(target, "selector_json") != NULL &&
        (sel = json_dumps(json_object_get(target, "selector_json"), JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if ((err = ids_literal(json_object_get(target, "node_ids"), &ids)) != GF_OK) {
        goto out;
    }
    /* Waves 0..n-2 as two arrays (the last wave takes the rest). */
    gf_buf_puts(&nodes, "{");
    gf_buf_puts(&pcts, "{");
    for (int w = 0; w + 1 < s->nwaves; w++) {
        gf_buf_printf(&nodes, "%s%ld", w ? "," : "", s->waves[w].nodes);
        gf_buf_printf(&pcts, "%s%.17g", w ? "," : "", s->waves[w].percent);
    }
    if (gf_buf_puts(&nodes, "}") != GF_OK || gf_buf_puts(&pcts, "}") != GF_OK) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    snprintf(first, sizeof(first), "%d", first_wave);
    const char *p[8] = {id, project, sel, ids.data, bundle, nodes.data, pcts.data, first};
    if ((err = gf_db_exec(db, &gf_q_rollout_snapshot, p, &res)) != GF_OK) {
        goto out;
    }
    long inserted = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    long fitting = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    if (first_wave == 0 && inserted < fitting) {
        err = conflicts(db, p, diag); /* the start is refused: the caller rolls back */
        goto out;
    }
    if (fitting == 0 && first_wave == 0 && !s->continuous) {
        err = gf_diag_set(diag, GF_ERR_UNPROCESSABLE, "/target",
                          "the target matches no accepted node that fits the bundle");
        goto out;
    }
    *added = inserted;
out:
    PQclear(res);
    free(sel);
    gf_buf_free(&ids);
    gf_buf_free(&nodes);
    gf_buf_free(&pcts);
    return err;
}

enum gf_err gf_rollout_event(struct gf_dbconn *db, const char *id, const char *kind,
                             const json_t *detail, int system)
{
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    const char *p[4] = {id, kind, d, system ? "true" : "false"};
    enum gf_err err;

    if (detail != NULL && d == NULL) {
        return GF_ERR_NOMEM;
    }
    err = gf_db_exec(db, &gf_q_rollout_event, p, NULL);
    free(d);
    return err;
}

enum gf_err gf_rollout_set(struct gf_dbconn *db, const char *id, const char *state,
                           const char *pause, const char *reason, int wave)
{
    char w[16];

    snprintf(w, sizeof(w), "%d", wave);
    const char *p[5] = {id, state, pause, reason, w};
    return gf_db_exec(db, &gf_q_rollout_set, p, NULL);
}

static enum gf_err start(struct gf_dbconn *db, const PGresult *row, const char **kind,
                         struct gf_diag *diag)
{
    const char *id = PQgetvalue(row, 0, 0);
    struct gf_rollout_spec s;
    json_t *spec = json_loads(PQgetvalue(row, 0, 6), 0, NULL);
    long added;
    enum gf_err err;

    if (spec == NULL || gf_rollout_spec_parse(spec, &s, NULL, diag) != GF_OK) {
        json_decref(spec);
        return gf_diag_set(diag, GF_ERR_INTERNAL, "", "the rollout's spec cannot be read");
    }
    err = gf_rollout_snapshot(db, id, PQgetvalue(row, 0, 1), PQgetvalue(row, 0, 3), &s, spec, 0,
                              &added, diag);
    json_decref(spec);
    if (err != GF_OK) {
        return err;
    }
    int due = strcmp(PQgetvalue(row, 0, 9), "t") == 0;
    *kind = due ? "started" : "scheduled";
    return gf_rollout_set(db, id, due ? "running" : "scheduled", NULL, NULL, 0);
}

enum gf_err gf_rollout_act(struct gf_dbconn *db, const char *id, const char *action,
                           const char **kind, struct gf_diag *diag)
{
    const char *p[1] = {id};
    PGresult *row = NULL;
    enum gf_err err;

    /* Wait for an engine step in progress, at most 10 s. */
    if ((err = gf_db_exec_sql(db, "SET LOCAL lock_timeout = '10s'")) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_rollout_lock_wait, p, &row)) != GF_OK) {
        return err;
    }
    if (PQntuples(row) != 1) {
        PQclear(row);
        return gf_diag_set(diag, GF_ERR_NOTFOUND, "", "no such rollout");
    }
    const char *state = PQgetvalue(row, 0, 4), *pause = gf_db_val(row, 0, 5);
    const char *bundle = PQgetvalue(row, 0, 3);
    int wave = (int)strtol(PQgetvalue(row, 0, 8), NULL, 10);
    int waves = (int)strtol(PQgetvalue(row, 0, 7), NULL, 10);

    if (strcmp(action, "start") == 0) {
        err = strcmp(state, "draft") == 0
                  ? start(db, row, kind, diag)
                  : gf_diag_set(diag, GF_ERR_CONFLICT, "", "the rollout is %s, not a draft", state);
    } else if (strcmp(action, "pause") == 0) {
        if (strcmp(state, "running") && strcmp(state, "scheduled")) {
            err = gf_diag_set(diag, GF_ERR_CONFLICT, "",
                              "only a running or scheduled rollout "
                              "can be paused (it is %s)",
                              state);
        } else {
            *kind = "paused";
            err = gf_rollout_set(db, id, "paused", "operator", "paused by an operator", wave);
        }
    } else if (strcmp(action, "resume") == 0) {
        if (strcmp(state, "paused") != 0) {
            err = gf_diag_set(diag, GF_ERR_CONFLICT, "", "the rollout is %s, not paused", state);
        } else if (pause != NULL && strcmp(pause, "window") == 0) {
            err = gf_diag_set(diag, GF_ERR_CONFLICT, "",
                              "the rollout waits for its maintenance window and resumes by "
                              "itself when it opens");
        } else if (pause != NULL && strcmp(pause, "operator") != 0 && wave + 1 >= waves) {
            err = gf_diag_set(diag, GF_ERR_CONFLICT, "",
                              "the last wave missed its success condition: there is no next "
                              "wave to resume into (cancel the rollout, or start a new one)");
        } else {
            /* After a wave's pause or a missed success condition, resuming moves on. */
            int next = pause != NULL && strcmp(pause, "operator") != 0 ? wave + 1 : wave;
            *kind = "resumed";
            err = gf_rollout_set(db, id, "running", NULL, "resumed by an operator", next);
        }
    } else if (strcmp(action, "cancel") == 0) {
        if (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
            strcmp(state, "cancelled") == 0) {
            err =
                gf_diag_set(diag, GF_ERR_CONFLICT, "", "the rollout has already ended (%s)", state);
        } else {
            const char *rp[2] = {id, bundle};
            const char *cp[2] = {id, "rollout cancelled"};
            *kind = "cancelled";
            if ((err = gf_db_exec(db, &gf_q_rollout_restore, rp, NULL)) == GF_OK &&
                (err = gf_db_exec(db, &gf_q_rollout_cancel_pending, cp, NULL)) == GF_OK) {
                err = gf_rollout_set(db, id, "cancelled", NULL, "cancelled by an operator", wave);
            }
        }
    } else {
        err = gf_diag_set(diag, GF_ERR_NOTFOUND, "", "no such action");
    }
    PQclear(row);
    return err;
}
