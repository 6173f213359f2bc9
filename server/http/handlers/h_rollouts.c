/* SPDX-License-Identifier: Apache-2.0
 *
 * h_rollouts.c - /api/v1/projects/{project_id}/rollouts and /api/v1/rollouts/{rollout_id}:
 * create (checked with rollout/spec.h; the bundle must be a published, unexpired bundle of
 * the project signed by a trusted key - or, templated, with a server-held key to sign each
 * node's instance, which the engine renders when it notifies the node; the targets are
 * taken at once unless the rollout is a draft, and a node held by another active rollout
 * refuses it with 409), list, read (counts per wave and state, and an ETA), page through
 * targets, and the operator's start / pause / resume / cancel (rollout/rollout.h). Each
 * change is audited by its route and recorded on the project's event feed; the engine is
 * kicked so the change takes effect at once. Idempotency-Key on POST is handled by
 * dispatch.c.
 */
#include "handlers.h"

#include "../../bundles/published.h"
#include "../../core/app.h"
#include "../../rollout/engine.h"
#include "../../rollout/rollout.h"
#include "../../rollout/spec.h"
#include "../../store/q_bundles.h"
#include "../../store/q_rollouts.h"
#include "../respond.h"
#include "ids.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const target_states[] = {"pending", "notified",  "downloading", "applying",
                                            "applied", "failed",    "rolled_back", "timed_out",
                                            "skipped", "cancelled", NULL};

enum gf_err gf_h_rollouts_list(struct gf_req *r)
{
    static const char *const states[] = {"draft",     "scheduled", "running",   "paused",
                                         "succeeded", "failed",    "cancelled", NULL};
    const char *state = gf_req_query(r, "state");
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);
    int known = state == NULL;

    if (err != GF_OK) {
        return err;
    }
    for (const char *const *s = states; state != NULL && *s != NULL; s++) {
        known |= strcmp(*s, state) == 0;
    }
    if (!known) {
        return gf_req_fail(r, GF_ERR_INVAL, "state",
                           "state must be one of draft, scheduled, "
                           "running, paused, succeeded, failed, cancelled");
    }
    const char *p[5] = {gf_req_param(r, "project_id"), state, pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_rollout_list, p, &pg);
}

/* A templated bundle is rendered per node by the engine, and each node's instance signed
 * with the project's server-held key: there must be one. 0, or the recorded 409. */
static enum gf_err check_signer(struct gf_req *r, struct gf_dbconn *db, const char *project)
{
    const char *p[3] = {project, "false", NULL};
    PGresult *k = NULL;
    enum gf_err err = gf_db_exec(db, &gf_q_trust_signer, p, &k);

    if (err == GF_OK && PQntuples(k) != 1) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "/bundle_id",
                          "the bundle is templated: each node's instance is signed with the "
                          "project's server-held key, and its trust root holds none");
    }
    PQclear(k);
    return err;
}

/* The bundle may be rolled out in this project: 0, or the recorded error. */
static enum gf_err check_bundle(struct gf_req *r, struct gf_dbconn *db, const char *project,
                                const char *bundle)
{
    const char *bp[1] = {bundle};
    PGresult *b = NULL;
    struct gf_diag d;
    enum gf_err err;

    if (!gf_uuid_valid(bundle)) {
        return gf_req_fail(r, GF_ERR_INVAL, "/bundle_id", "/bundle_id must be a bundle id");
    }
    if ((err = gf_db_exec(db, &gf_q_bundle_signed, bp, &b)) != GF_OK) {
        return err;
    }
    gf_diag_clear(&d);
    if (PQntuples(b) != 1 || strcmp(PQgetvalue(b, 0, 4), project) != 0) {
        err = gf_req_fail(r, GF_ERR_UNPROCESSABLE, "/bundle_id", "no such bundle in the project");
    } else if ((err = gf_bundle_usable(db, b, &d)) != GF_OK) {
        err = d.msg[0] ? gf_req_fail(r, err, d.where, "%s", d.msg) : err;
    } else if (strcmp(PQgetvalue(b, 0, 5), "t") == 0) {
        err = check_signer(r, db, project);
    }
    PQclear(b);
    return err;
}

/* Unknown time zones and node ids of the request: 0, or the recorded 422. */
static enum gf_err check_refs(struct gf_req *r, struct gf_dbconn *db, const char *project,
                              const struct gf_rollout_spec *s, const json_t *spec)
{
    const json_t *ids = json_object_get(json_object_get(spec, "target"), "node_ids");
    enum gf_err err;

    for (int i = 0; i < s->nwindows; i++) {
        const char *p[1] = {s->windows[i].timezone};
        PGresult *res = NULL;
        if ((err = gf_db_exec(db, &gf_q_timezone_known, p, &res)) != GF_OK) {
            return err;
        }
        int known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!known) {
            char where[48];
            snprintf(where, sizeof(where), "/windows/%d/timezone", i);
            return gf_req_fail(r, GF_ERR_UNPROCESSABLE, where,
                               "%s: unknown time zone \"%s\" (use a name such as Europe/Moscow)",
                               where, s->windows[i].timezone);
        }
    }
    if (json_array_size(ids) > 0) {
        char *lit = json_dumps(ids, JSON_COMPACT);
        PGresult *res = NULL;
        if (lit == NULL) {
            return GF_ERR_NOMEM;
        }
        lit[0] = '{'; /* ["a","b"] -> {"a","b"}: a uuid[] literal */
        lit[strlen(lit) - 1] = '}';
        const char *p[2] = {project, lit};
        err = gf_db_exec(db, &gf_q_rollout_ids_unknown, p, &res);
        free(lit);
        if (err != GF_OK) {
            return err;
        }
        if (PQntuples(res) > 0) {
            err = gf_req_fail(r, GF_ERR_UNPROCESSABLE, "/target/node_ids",
                              "not nodes of this project: %s%s", PQgetvalue(res, 0, 0),
                              PQntuples(res) > 1 ? " and others" : "");
        }
        PQclear(res);
        return err;
    }
    return GF_OK;
}

/* The answer for one rollout: its row, counts per wave and state, totals and an ETA. */
static enum gf_err reply_rollout(struct gf_req *r, struct gf_dbconn *db, const char *id,
                                 unsigned status)
{
    const char *p[1] = {id};
    PGresult *row = NULL, *waves = NULL, *rate = NULL;
    json_t *out = NULL;
    enum gf_err err;

    if ((err = gf_db_exec(db, &gf_q_rollout_get, p, &row)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_rollout_waves, p, &waves)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_rollout_rate, p, &rate)) != GF_OK) {
        goto out;
    }
    if (PQntuples(row) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such rollout");
        goto out;
    }
    if ((out = json_loads(PQgetvalue(row, 0, 0), 0, NULL)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    json_t *w = json_loads(PQgetvalue(waves, 0, 0), 0, NULL), *totals = json_object();
    size_t i;
    json_t *x;
    long total = 0, done = 0;
    json_array_foreach(w, i, x)
    {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(x, "states"), k, v)
        {
            long n = (long)json_integer_value(v);
            json_object_set_new(totals, k,
                                json_integer(json_integer_value(json_object_get(totals, k)) + n));
            total += n;
            if (strcmp(k, "pending") && strcmp(k, "notified") && strcmp(k, "downloading") &&
                strcmp(k, "applying")) {
                done += n;
            }
        }
    }
    json_object_set_new(out, "waves", w ? w : json_array());
    json_object_set_new(out, "counts", totals);
    json_object_set_new(out, "targets", json_integer(total));
    /* ETA: what is left at the pace of the last 5 minutes; null without a pace. */
    double per_s = strtod(PQgetvalue(rate, 0, 2), NULL) / 300.0;
    const char *state = json_string_value(json_object_get(out, "state"));
    int live = strcmp(state, "running") == 0 || strcmp(state, "paused") == 0;
    json_object_set_new(out, "eta_s",
                        !live           ? json_null()
                        : done >= total ? json_integer(0)
                        : per_s > 0     ? json_integer((json_int_t)((double)(total - done) / per_s))
                                        : json_null());
    err = gf_req_reply_json(r, status, out);
    out = NULL;
out:
    json_decref(out);
    PQclear(row);
    PQclear(waves);
    PQclear(rate);
    return err;
}

enum gf_err gf_h_rollouts_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 0, 1, 0, 200, 0, 0},
        {"bundle_id", GF_JSON_STRING, 1, 0, 1, 36, 0, 0},
        {"draft", GF_JSON_BOOL, 0, 1, 0, 0, 0, 0},
        {"start_at", GF_JSON_STRING, 0, 1, 1, 40, 0, 0},
        {"target", GF_JSON_OBJECT, 1, 0, 0, 0, 0, 0},
        {"waves", GF_JSON_ARRAY, 0, 1, 0, 0, 0, 0},
        {"abort", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"rate", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"node_timeout_s", GF_JSON_INT, 0, 1, 0, 0, -1000000000, 1000000000},
        {"offline", GF_JSON_STRING, 0, 1, 1, 20, 0, 0},
        {"retries", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"windows", GF_JSON_ARRAY, 0, 1, 0, 0, 0, 0},
    };
    const char *project = gf_req_param(r, "project_id");
    struct gf_rollout_spec s;
    struct gf_diag d;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL, *spec = NULL;
    char *spec_text = NULL, waves[16], start[40];
    int64_t start_us = 0;
    long added = 0;
    enum gf_err err = gf_req_json(r, fields, sizeof(fields) / sizeof(fields[0]), &body);

    if (err != GF_OK) {
        return err;
    }
    gf_diag_clear(&d);
    if ((err = gf_rollout_spec_parse(body, &s, &spec, &d)) != GF_OK) {
        err = gf_req_fail(r, err, d.where, "%s", d.msg);
        goto out;
    }
    const char *start_at = gf_json_str(body, "start_at");
    if (start_at != NULL && gf_time_parse_rfc3339(start_at, &start_us) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/start_at", "/start_at must be an RFC 3339 time");
        goto out;
    }
    if (start_at != NULL) {
        gf_time_format_rfc3339(start_us, start, sizeof(start));
    }
    const char *bundle = gf_json_str(body, "bundle_id");
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = check_bundle(r, db, project, bundle)) != GF_OK ||
        (err = check_refs(r, db, project, &s, spec)) != GF_OK) {
        goto out;
    }
    int draft = gf_json_bool(body, "draft", 0);
    int later = start_at != NULL && start_us > gf_time_now_us();
    const char *state = draft ? "draft" : later ? "scheduled" : "running";
    const char *who = gf_req_who(r)->user_id[0] ? gf_req_who(r)->user_id : NULL;
    if ((spec_text = json_dumps(spec, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    snprintf(waves, sizeof(waves), "%d", s.nwaves);
    const char *ip[8] = {project,
                         bundle,
                         gf_json_str(body, "name") ? gf_json_str(body, "name") : "",
                         state,
                         spec_text,
                         waves,
                         start_at ? start : NULL,
                         who};
    if ((err = gf_db_exec(db, &gf_q_rollout_insert, ip, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "rollout", NULL);
        goto out;
    }
    char id[40];
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    gf_req_audit_object(r, id);
    if (!draft) {
        if ((err = gf_rollout_snapshot(db, id, project, bundle, &s, spec, 0, &added, &d)) !=
            GF_OK) {
            err = gf_req_fail(r, err, d.where, "%s", d.msg);
            goto out;
        }
    }
    if ((err = gf_rollout_event(db, id,
                                draft   ? "created"
                                : later ? "scheduled"
                                        : "started",
                                NULL, 0)) != GF_OK) {
        goto out;
    }
    gf_req_audit_detail(r, json_pack("{s:s, s:s, s:I}", "bundle_id", bundle, "state", state,
                                     "targets", (json_int_t)added));
    err = reply_rollout(r, db, id, 201);
    gf_rollout_engine_kick(gf_req_app(r)->rollouts);
out:
    free(spec_text);
    PQclear(res);
    json_decref(spec);
    json_decref(body);
    return err;
}

enum gf_err gf_h_rollouts_get(struct gf_req *r)
{
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    return err == GF_OK ? reply_rollout(r, db, gf_req_param(r, "rollout_id"), 200) : err;
}

enum gf_err gf_h_rollouts_targets(struct gf_req *r)
{
    const char *state = gf_req_query(r, "state"), *wave = gf_req_query(r, "wave");
    const char *error = gf_req_query(r, "error");
    struct gf_page pg;
    char *end = NULL;
    int known = state == NULL;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    for (const char *const *s = target_states; state != NULL && *s != NULL; s++) {
        known |= strcmp(*s, state) == 0;
    }
    if (!known) {
        return gf_req_fail(r, GF_ERR_INVAL, "state",
                           "state must be a target state (pending, "
                           "notified, downloading, applying, applied, failed, rolled_back, "
                           "timed_out, skipped, cancelled)");
    }
    if (wave != NULL) {
        long w = strtol(wave, &end, 10);
        if (end == wave || *end != '\0' || w < 1 || w > GF_ROLLOUT_WAVES_MAX) {
            return gf_req_fail(r, GF_ERR_INVAL, "wave", "wave must be a wave number from 1 to %d",
                               GF_ROLLOUT_WAVES_MAX);
        }
    }
    if (error != NULL && strlen(error) > 200) {
        return gf_req_fail(r, GF_ERR_INVAL, "error", "error is at most 200 characters");
    }
    const char *p[6] = {gf_req_param(r, "rollout_id"), state, wave, error, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_rollout_targets, p, &pg);
}

enum gf_err gf_h_rollouts_act(struct gf_req *r)
{
    const char *path = gf_req_path(r), *slash = strrchr(path, '/');
    const char *id = gf_req_param(r, "rollout_id"), *kind = NULL;
    struct gf_dbconn *db;
    struct gf_diag d;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    gf_diag_clear(&d);
    if ((err = gf_rollout_act(db, id, slash + 1, &kind, &d)) != GF_OK) {
        return gf_req_fail(r, err, d.where, "%s", d.msg[0] ? d.msg : gf_err_str(err));
    }
    if ((err = gf_rollout_event(db, id, kind, NULL, 0)) != GF_OK) {
        return err;
    }
    err = reply_rollout(r, db, id, 200);
    gf_rollout_engine_kick(gf_req_app(r)->rollouts);
    return err;
}
