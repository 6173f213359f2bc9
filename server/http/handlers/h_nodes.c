/* SPDX-License-Identifier: Apache-2.0
 *
 * h_nodes.c - /api/v1/projects/{project_id}/nodes and /api/v1/nodes/{node_id}: the edge
 * nodes of a project. Lists filter by status, online, a Kubernetes-style label selector and
 * free text over name and hostname. Admission: accept (provisions the node's broker account
 * through broker_accounts) and reject (removes it); operators can pre-authorise a known
 * public key (POST .../nodes) so that node is accepted on first contact. Deleting a node
 * removes its broker account too.
 */
#include "handlers.h"

#include "../../store/q_enroll.h"
#include "../../store/q_nodes.h"
#include "../respond.h"
#include "gf_limits.h"
#include "ids.h"
#include "selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gf_err gf_h_nodes_list(struct gf_req *r)
{
    const char *status = gf_req_query(r, "status"), *online = gf_req_query(r, "online");
    const char *selector = gf_req_query(r, "selector"), *q = gf_req_query(r, "q");
    struct gf_diag d;
    struct gf_page pg;
    json_t *sel = NULL;
    char *sel_text = NULL;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "accepted") != 0 &&
        strcmp(status, "rejected") != 0 && strcmp(status, "decommissioned") != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "status",
                           "status must be pending, accepted, rejected or decommissioned");
    }
    if (online != NULL && strcmp(online, "true") != 0 && strcmp(online, "false") != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "online", "online must be true or false");
    }
    if (q != NULL && strlen(q) > GF_LIMIT_NAME_CHARS) {
        return gf_req_fail(r, GF_ERR_INVAL, "q", "q is longer than %u characters",
                           GF_LIMIT_NAME_CHARS);
    }
    if (selector != NULL) {
        if (gf_selector_compile(selector, &sel, &d) != GF_OK) {
            return gf_req_fail(r, GF_ERR_INVAL, "selector", "%s", d.msg);
        }
        if ((sel_text = json_dumps(sel, JSON_COMPACT)) == NULL) {
            json_decref(sel);
            return GF_ERR_NOMEM;
        }
    }
    const char *p[8] = {gf_req_param(r, "project_id"), status, online, sel_text,
                        q && q[0] ? q : NULL,           pg.cursor_us, pg.cursor_id, pg.fetch};
    err = gf_reply_list(r, &gf_q_node_list, p, &pg);
    free(sel_text);
    json_decref(sel);
    return err;
}

enum gf_err gf_h_nodes_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "node_id")};

    return gf_reply_row(r, &gf_q_node_get, p, 200, "node");
}

/* Labels of body (optional) as compact JSON text in *out (caller frees). */
static enum gf_err labels_text(struct gf_req *r, const json_t *body, char **out)
{
    struct gf_diag d;
    const json_t *labels = json_object_get(body, "labels");

    *out = NULL;
    if (labels == NULL || json_is_null(labels)) {
        return GF_OK;
    }
    if (gf_labels_check(labels, "/labels", &d) != GF_OK) {
        return gf_req_fail(r, GF_ERR_INVAL, d.where, "%s", d.msg);
    }
    *out = json_dumps(labels, JSON_COMPACT);
    return *out ? GF_OK : GF_ERR_NOMEM;
}

enum gf_err gf_h_nodes_update(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 0, 0, 0, GF_LIMIT_NAME_CHARS, 0, 0},
        {"labels", GF_JSON_OBJECT, 0, 0, 0, 0, 0, 0},
    };
    const char *version;
    json_t *body = NULL;
    char *labels = NULL;
    enum gf_err err = gf_req_json(r, fields, 2, &body);

    if (err == GF_OK) {
        err = labels_text(r, body, &labels);
    }
    if (err == GF_OK) {
        err = gf_req_if_match(r, &version);
    }
    if (err == GF_OK) {
        const char *p[4] = {gf_req_param(r, "node_id"), gf_json_str(body, "name"), labels,
                            version};
        err = gf_reply_row(r, &gf_q_node_update, p, 200, "node");
        if (err == GF_ERR_NOTFOUND) {
            err = gf_req_fail(r, GF_ERR_PRECONDITION, "If-Match",
                              "the node was changed by someone else; read it again");
        }
    }
    free(labels);
    json_decref(body);
    return err;
}

/* Mark every broker account of the node for removal. */
static enum gf_err drop_accounts(struct gf_req *r, const char *node_id)
{
    const char *p[1] = {node_id};
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err == GF_OK && (err = gf_db_exec(db, &gf_q_account_drop, p, NULL)) != GF_OK) {
        err = gf_req_db_fail(r, err, "broker account", NULL);
    }
    return err;
}

enum gf_err gf_h_nodes_delete(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "node_id")};
    enum gf_err err = drop_accounts(r, p[0]);

    return err == GF_OK ? gf_reply_exec(r, &gf_q_node_delete, p, "node") : err;
}

enum gf_err gf_h_want_account(struct gf_req *r, struct gf_dbconn *db, const char *cluster,
                              const char *node_id, const char *cred_gen)
{
    const char *p[4] = {cluster, node_id, node_id, cred_gen};
    enum gf_err err;

    if (cluster == NULL) {
        return GF_OK; /* no cluster yet: enrollment answers "retry later" */
    }
    err = gf_db_exec(db, &gf_q_account_want, p, NULL);
    return err == GF_OK ? GF_OK : gf_req_db_fail(r, err, "broker account", NULL);
}

/* Accept or reject: run st (node, deciding user) -> node row; a decommissioned node
 * matches no row. *res receives the row on GF_OK. */
static enum gf_err decide(struct gf_req *r, const struct gf_stmt *st, const char *verb,
                          struct gf_dbconn **db, PGresult **res)
{
    const char *who = gf_req_who(r)->user_id;
    const char *p[2] = {gf_req_param(r, "node_id"), who[0] ? who : NULL};
    enum gf_err err = gf_req_db(r, db);

    *res = NULL;
    if (err != GF_OK) {
        return err;
    }
    if ((err = gf_db_exec(*db, st, p, res)) != GF_OK) {
        return gf_req_db_fail(r, err, "node", NULL);
    }
    if (PQntuples(*res) != 1) {
        PQclear(*res);
        *res = NULL;
        return gf_req_fail(r, GF_ERR_CONFLICT, "", "a decommissioned node cannot be %s", verb);
    }
    return GF_OK;
}

enum gf_err gf_h_nodes_accept(struct gf_req *r)
{
    struct gf_dbconn *db;
    PGresult *res;
    enum gf_err err = decide(r, &gf_q_node_accept, "accepted", &db, &res);

    if (err == GF_OK) {
        err = gf_h_want_account(r, db, gf_db_val(res, 0, 2), gf_req_param(r, "node_id"),
                                gf_db_val(res, 0, 3));
    }
    if (err == GF_OK) {
        err = gf_reply_result(r, res, 200);
    }
    PQclear(res);
    return err;
}

enum gf_err gf_h_nodes_reject(struct gf_req *r)
{
    struct gf_dbconn *db;
    PGresult *res;
    enum gf_err err = decide(r, &gf_q_node_reject, "rejected", &db, &res);

    if (err == GF_OK) {
        err = drop_accounts(r, gf_req_param(r, "node_id"));
    }
    if (err == GF_OK) {
        err = gf_reply_result(r, res, 200);
    }
    PQclear(res);
    return err;
}

/* POST /projects/{id}/nodes: pre-authorise a public key. */
enum gf_err gf_h_nodes_preauth(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"public_key", GF_JSON_STRING, 1, 0, 43, 43, 0, 0},
        {"name", GF_JSON_STRING, 0, 1, 0, GF_LIMIT_NAME_CHARS, 0, 0},
        {"labels", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
    };
    unsigned char pk[40];
    char pk_hex[72];
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    char *labels = NULL;
    enum gf_err err = gf_req_json(r, fields, 3, &body);

    if (err != GF_OK) {
        return err;
    }
    if (gf_b64url_decode(pk, sizeof(pk), gf_json_str(body, "public_key")) != 32) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/public_key",
                          "/public_key must be an Ed25519 public key: 32 bytes in base64url");
        goto out;
    }
    gf_hex_encode(pk_hex, sizeof(pk_hex), pk, 32);
    if ((err = labels_text(r, body, &labels)) != GF_OK || (err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *who = gf_req_who(r)->user_id;
    const char *p[5] = {gf_req_param(r, "project_id"), gf_json_str(body, "name"), pk_hex, labels,
                        who[0] ? who : NULL};
    if ((err = gf_db_exec(db, &gf_q_node_preauth, p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "a node with this public key in the project", "/public_key");
        goto out;
    }
    const char *node_id = gf_db_val(res, 0, 2);
    if ((err = gf_h_want_account(r, db, gf_db_val(res, 0, 4), node_id, gf_db_val(res, 0, 3))) !=
        GF_OK) {
        goto out;
    }
    gf_req_audit_object(r, node_id);
    err = gf_reply_result(r, res, 201);
out:
    PQclear(res);
    free(labels);
    json_decref(body);
    return err;
}

enum gf_err gf_h_nodes_presence(struct gf_req *r)
{
    char limit[16];
    const char *lim = gf_req_query(r, "limit");
    long n = lim ? strtol(lim, NULL, 10) : 50;

    if (n < 1 || n > GF_LIMIT_PAGE_MAX) {
        return gf_req_fail(r, GF_ERR_INVAL, "limit", "limit must be 1 to %d", GF_LIMIT_PAGE_MAX);
    }
    snprintf(limit, sizeof(limit), "%ld", n);
    const char *p[2] = {gf_req_param(r, "node_id"), limit};
    return gf_reply_row(r, &gf_q_node_presence, p, 200, "node");
}
