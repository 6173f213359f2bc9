/* SPDX-License-Identifier: Apache-2.0
 *
 * h_desired.c - /api/v1/nodes/{node_id}/bundle and /api/v1/projects/{project_id}/drift: a
 * node's desired bundle. PUT assigns a published, unexpired bundle of the node's project
 * whose target fits the node (selector on its labels, architecture from its inventory).
 * A templated bundle becomes the node's own instance (bundles/pernode.h: rendered files
 * stored as blobs, a manifest naming the node signed with the project's server key), so the
 * agent verifies exactly the bytes it will install; rollouts make the same instances. The
 * assignment bumps the node's outbox generation; the fleet thread publishes the retained
 * `desired` message (mqtt/fleet.c), so an assignment made while the broker is down still
 * reaches the node.
 * GET shows desired and applied bundle, the agent's last reported state and recent steps;
 * drift lists the nodes whose applied manifest differs from the desired one.
 */
#include "handlers.h"

#include "../../bundles/pernode.h"
#include "../../bundles/published.h"
#include "../../core/app.h"
#include "../../store/q_bundles.h"
#include "../respond.h"
#include "alloc.h"
#include "ids.h"
#include "selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does the bundle's target (JSON text or NULL) fit the node? 0 yes, else recorded 422. */
static enum gf_err check_target(struct gf_req *r, const char *target, const char *labels,
                                const char *arch)
{
    json_t *t = target ? json_loads(target, 0, NULL) : NULL, *l = json_loads(labels, 0, NULL);
    const json_t *sel = json_object_get(t, "selector_json"), *archs = json_object_get(t, "arch");
    enum gf_err err = GF_OK;

    if (sel != NULL && !gf_selector_match(sel, l)) {
        err = gf_req_fail(r, GF_ERR_UNPROCESSABLE, "/bundle_id",
                          "the node's labels do not match "
                          "the bundle's target selector \"%s\"",
                          json_string_value(json_object_get(t, "selector")));
    } else if (json_array_size(archs) > 0) {
        size_t i;
        json_t *v;
        int ok = 0;
        json_array_foreach(archs, i, v)
        {
            ok |= arch != NULL && strcmp(json_string_value(v), arch) == 0;
        }
        if (!ok) {
            err = gf_req_fail(r, GF_ERR_UNPROCESSABLE, "/bundle_id",
                              "the bundle targets other "
                              "architectures than the node's (%s)",
                              arch ? arch : "unknown");
        }
    }
    json_decref(t);
    json_decref(l);
    return err;
}

/* The node's own instance of the templated bundle (row b of gf_q_bundle_signed), stored
 * (bundles/pernode.h): its envelope into *env (gf_free) and manifest hash into sha. */
static enum gf_err render_for(struct gf_req *r, struct gf_dbconn *db, const PGresult *b,
                              const char *bundle, const char *node, const char *labels, char **env,
                              char sha[65])
{
    struct gf_pernode *t = NULL;
    struct gf_diag d;
    enum gf_err err;

    gf_diag_clear(&d);
    if ((err = gf_pernode_open(db, gf_req_app(r)->master_key, b, bundle, &t, &d)) != GF_OK ||
        (err = gf_pernode_add(t, node, labels, &d)) != GF_OK ||
        (err = gf_pernode_store(t, db)) != GF_OK) {
        err = d.msg[0] ? gf_req_fail(r, err, d.where, "%s", d.msg) : err;
        goto out;
    }
    snprintf(sha, 65, "%s", gf_pernode_sha256(t));
    if ((*env = gf_strdup(gf_pernode_envelope(t))) == NULL) {
        err = GF_ERR_NOMEM;
    }
out:
    gf_pernode_free(t);
    return err;
}

enum gf_err gf_h_desired_put(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"bundle_id", GF_JSON_STRING, 1, 0, 36, 36, 0, 0},
    };
    const char *node = gf_req_param(r, "node_id");
    const char *np[1] = {node};
    char sha[65];
    struct gf_diag d;
    struct gf_dbconn *db;
    PGresult *n = NULL, *b = NULL, *res = NULL;
    json_t *body = NULL;
    char *env = NULL;
    size_t envlen = 0;
    enum gf_err err = gf_req_json(r, fields, 1, &body);

    if (err != GF_OK) {
        return err;
    }
    const char *bundle = gf_json_str(body, "bundle_id");
    const char *bp[1] = {bundle};
    if (!gf_uuid_valid(bundle)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/bundle_id", "/bundle_id must be a bundle id");
        goto out;
    }
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_assign_node, np, &n)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_bundle_signed, bp, &b)) != GF_OK) {
        goto out;
    }
    if (PQntuples(n) != 1 || PQntuples(b) != 1 ||
        strcmp(PQgetvalue(n, 0, 0), PQgetvalue(b, 0, 4)) != 0) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "/bundle_id", "no such bundle in the node's project");
        goto out;
    }
    if (strcmp(PQgetvalue(n, 0, 1), "accepted") != 0) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "",
                          "the node is %s; only accepted nodes get "
                          "bundles",
                          PQgetvalue(n, 0, 1));
        goto out;
    }
    gf_diag_clear(&d);
    if ((err = gf_bundle_usable(db, b, &d)) != GF_OK) {
        err = d.msg[0] ? gf_req_fail(r, err, d.where, "%s", d.msg) : err;
        goto out;
    }
    if ((err = check_target(r, gf_db_val(b, 0, 11), PQgetvalue(n, 0, 2), gf_db_val(n, 0, 3))) !=
        GF_OK) {
        goto out;
    }
    if (strcmp(PQgetvalue(b, 0, 5), "t") == 0) {
        err = render_for(r, db, b, bundle, node, PQgetvalue(n, 0, 2), &env, sha);
    } else {
        snprintf(sha, sizeof(sha), "%s", PQgetvalue(b, 0, 9));
        const char *cp[1] = {node};
        if ((err = gf_db_exec(db, &gf_q_node_files_clear, cp, NULL)) == GF_OK) {
            err = gf_bundle_envelope(b, &env, &envlen);
        }
    }
    if (err != GF_OK) {
        goto out;
    }
    const char *who = gf_req_who(r)->user_id[0] ? gf_req_who(r)->user_id : NULL;
    const char *pp[6] = {node, bundle, env, sha, PQgetvalue(b, 0, 8), who};
    if ((err = gf_db_exec(db, &gf_q_node_bundle_put, pp, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "assignment", NULL);
        goto out;
    }
    gf_req_audit_detail(r, json_pack("{s:s, s:s, s:s, s:s}", "bundle_id", bundle, "name",
                                     PQgetvalue(b, 0, 7), "version", PQgetvalue(b, 0, 8),
                                     "manifest_sha256", sha));
    err = gf_reply_result(r, res, 200);
out:
    gf_free(env);
    PQclear(n);
    PQclear(b);
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_desired_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "node_id")};
    struct gf_dbconn *db;
    PGresult *res = NULL, *ev = NULL;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    if ((err = gf_db_exec(db, &gf_q_node_bundle_get, p, &res)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_node_bundle_events, p, &ev)) != GF_OK) {
        goto out;
    }
    if (PQntuples(res) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "the node has no desired bundle");
        goto out;
    }
    json_t *out = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (out == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(out, "events", json_loads(PQgetvalue(ev, 0, 0), 0, NULL));
    err = gf_req_reply_json(r, 200, out);
out:
    PQclear(res);
    PQclear(ev);
    return err;
}

enum gf_err gf_h_drift_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[4] = {gf_req_param(r, "project_id"), pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_drift_list, p, &pg);
}
