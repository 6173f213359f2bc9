/* SPDX-License-Identifier: Apache-2.0
 *
 * h_commands.c - remote commands: POST /nodes/{node_id}/commands (one node), POST
 * /projects/{project_id}/commands (every accepted node a label selector matches, at most
 * `concurrency` sent or running at once: a batch), GET /commands/{command_id}, GET
 * /nodes/{node_id}/commands, GET /command-batches/{batch_id} and its /commands.
 *
 * The server does not know a station's allowlist (it is local to the station, by design):
 * it checks the shape of the request, and the agent rejects what it does not allow, which
 * ends the command as `rejected` with the agent's reason. Names reserved for log streams are
 * refused here. The rows are published by the fleet thread (mqtt/cmdout.c), woken after the
 * commit; Idempotency-Key on POST is handled by dispatch.c.
 */
#include "handlers.h"

#include "../../store/q_commands.h"
#include "../respond.h"
#include "gf_limits.h"
#include "selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GF_CMD_TIMEOUT_DEFAULT_S 30
#define GF_CMD_TIMEOUT_MAX_S 3600
#define GF_CMD_ARGS_MAX 16384 /* bytes of the args object, as compact JSON */
#define GF_CMD_CONCURRENCY_DEFAULT 10

static const char *const cmd_states[] = {"queued",    "sent",    "running",  "succeeded", "failed",
                                         "timed_out", "expired", "rejected", NULL};

/* Name: [a-z0-9._:-], 1..64, not one of the reserved log stream commands. */
static enum gf_err check_name(struct gf_req *r, const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._:-") != n) {
        return gf_req_fail(r, GF_ERR_INVAL, "/name",
                           "/name must be 1 to 64 characters of a-z, 0-9, '.', '_', ':' and '-'");
    }
    if (strncmp(name, "logs.stream.", 12) == 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "/name",
                           "/name %s is reserved: use /nodes/{id}/log-streams", name);
    }
    return GF_OK;
}

/* args (optional object) as compact JSON text in *out (caller frees). */
static enum gf_err args_text(struct gf_req *r, const json_t *body, char **out)
{
    const json_t *args = json_object_get(body, "args");

    *out = args && !json_is_null(args) ? json_dumps(args, JSON_COMPACT) : strdup("{}");
    if (*out == NULL) {
        return GF_ERR_NOMEM;
    }
    if (strlen(*out) > GF_CMD_ARGS_MAX) {
        free(*out);
        *out = NULL;
        return gf_req_fail(r, GF_ERR_INVAL, "/args", "/args is larger than %d bytes",
                           GF_CMD_ARGS_MAX);
    }
    return GF_OK;
}

static int known_state(const char *state)
{
    for (const char *const *s = cmd_states; state != NULL && *s != NULL; s++) {
        if (strcmp(*s, state) == 0) {
            return 1;
        }
    }
    return state == NULL;
}

enum gf_err gf_h_node_reachable(struct gf_req *r, struct gf_dbconn *db, const char *node,
                                const char *what)
{
    PGresult *res = NULL;
    const char *p[1] = {node};
    enum gf_err err = gf_db_exec(db, &gf_q_command_node, p, &res);

    if (err != GF_OK) {
        return err;
    }
    if (PQntuples(res) == 0) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such node");
    } else if (strcmp(PQgetvalue(res, 0, 0), "accepted") != 0) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "node_id", "the node is %s: %s accepted nodes only",
                          PQgetvalue(res, 0, 0), what);
    } else if (PQgetisnull(res, 0, 1)) {
        err = gf_req_fail(r, GF_ERR_CONFLICT, "node_id",
                          "the node has no broker cluster, so no way to reach it");
    }
    PQclear(res);
    return err;
}

/* A batch's body; a single node's is the first three (GF_CMD_NODE_FIELDS). */
static const struct gf_json_field cmd_fields[] = {
    {"name", GF_JSON_STRING, 1, 0, 1, 64, 0, 0},
    {"args", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
    {"timeout_s", GF_JSON_INT, 0, 1, 0, 0, 1, GF_CMD_TIMEOUT_MAX_S},
    {"selector", GF_JSON_STRING, 0, 0, 1, 1024, 0, 0},
    {"concurrency", GF_JSON_INT, 0, 1, 0, 0, 1, 1000},
};
#define GF_CMD_NODE_FIELDS 3

enum gf_err gf_h_commands_create(struct gf_req *r)
{
    const char *node = gf_req_param(r, "node_id");
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    char *args = NULL, timeout[24], label[300];
    enum gf_err err = gf_req_json(r, cmd_fields, GF_CMD_NODE_FIELDS, &body);

    if (err != GF_OK) {
        return err;
    }
    const char *name = gf_json_str(body, "name");
    if ((err = check_name(r, name)) != GF_OK || (err = args_text(r, body, &args)) != GF_OK ||
        (err = gf_req_db(r, &db)) != GF_OK || (err = gf_h_node_reachable(r, db, node, "commands go to")) != GF_OK) {
        goto out;
    }
    snprintf(timeout, sizeof(timeout), "%lld",
             gf_json_int(body, "timeout_s", GF_CMD_TIMEOUT_DEFAULT_S) * 1000);
    const char *who = gf_req_requester(r, label, sizeof(label));
    const char *p[6] = {node, name, args, timeout, who, label};
    if ((err = gf_db_exec(db, &gf_q_command_insert, p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "command", NULL);
        goto out;
    }
    gf_req_audit_object(r, PQgetvalue(res, 0, 1));
    gf_req_audit_detail(r, json_pack("{s:s, s:s}", "node_id", node, "name", name));
    gf_req_kick_fleet(r);
    err = gf_reply_result(r, res, 202);
out:
    PQclear(res);
    free(args);
    json_decref(body);
    return err;
}

enum gf_err gf_h_commands_batch(struct gf_req *r)
{
    const char *project = gf_req_param(r, "project_id");
    struct gf_dbconn *db;
    struct gf_diag d;
    PGresult *res = NULL;
    json_t *body = NULL, *sel = NULL;
    char *args = NULL, *sel_text = NULL, timeout[24], conc[16], label[300];
    enum gf_err err = gf_req_json(r, cmd_fields, sizeof(cmd_fields) / sizeof(cmd_fields[0]),
                                  &body);

    if (err != GF_OK) {
        return err;
    }
    const char *name = gf_json_str(body, "name"), *selector = gf_json_str(body, "selector");
    if ((err = check_name(r, name)) != GF_OK || (err = args_text(r, body, &args)) != GF_OK) {
        goto out;
    }
    if (selector == NULL) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/selector",
                          "/selector is required: the label selector of the nodes to run on");
        goto out;
    }
    gf_diag_clear(&d);
    if (gf_selector_compile(selector, &sel, &d) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/selector", "%s", d.msg);
        goto out;
    }
    if ((sel_text = json_dumps(sel, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    snprintf(timeout, sizeof(timeout), "%lld",
             gf_json_int(body, "timeout_s", GF_CMD_TIMEOUT_DEFAULT_S) * 1000);
    snprintf(conc, sizeof(conc), "%lld",
             gf_json_int(body, "concurrency", GF_CMD_CONCURRENCY_DEFAULT));
    const char *who = gf_req_requester(r, label, sizeof(label));
    const char *p[9] = {project, selector, sel_text, name, args, timeout, conc, who, label};
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_batch_insert, p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "command batch", NULL);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/selector",
                          "/selector matches no accepted node of the project");
        goto out;
    }
    char id[40];
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    gf_req_audit_object(r, id);
    gf_req_audit_detail(r, json_pack("{s:s, s:s, s:s, s:s}", "selector", selector, "name", name,
                                     "nodes", PQgetvalue(res, 0, 1), "concurrency", conc));
    gf_req_kick_fleet(r);
    PQclear(res);
    res = NULL;
    const char *gp[1] = {id};
    err = gf_reply_row(r, &gf_q_batch_get, gp, 202, "command batch");
out:
    PQclear(res);
    free(args);
    free(sel_text);
    json_decref(sel);
    json_decref(body);
    return err;
}

enum gf_err gf_h_commands_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "command_id")};

    return gf_reply_row(r, &gf_q_command_get, p, 200, "command");
}

/* GET list of a node's or a batch's commands, ?state= filter. */
static enum gf_err list(struct gf_req *r, const struct gf_stmt *st, const char *owner)
{
    const char *state = gf_req_query(r, "state");
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    if (!known_state(state)) {
        return gf_req_fail(r, GF_ERR_INVAL, "state",
                           "state must be one of queued, sent, running, succeeded, failed, "
                           "timed_out, expired, rejected");
    }
    const char *p[5] = {owner, state, pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, st, p, &pg);
}

enum gf_err gf_h_commands_list(struct gf_req *r)
{
    return list(r, &gf_q_command_list, gf_req_param(r, "node_id"));
}

enum gf_err gf_h_batches_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "batch_id")};

    return gf_reply_row(r, &gf_q_batch_get, p, 200, "command batch");
}

enum gf_err gf_h_batches_commands(struct gf_req *r)
{
    return list(r, &gf_q_batch_commands, gf_req_param(r, "batch_id"));
}
