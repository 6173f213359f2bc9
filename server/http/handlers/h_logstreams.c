/* SPDX-License-Identifier: Apache-2.0
 *
 * h_logstreams.c - live log streams: POST /nodes/{node_id}/log-streams (source: a file path
 * or a systemd unit; past lines; follow; filter; maximum duration), GET and DELETE
 * /log-streams/{stream_id}. Starting and stopping are commands of their own
 * (logs.stream.start / logs.stream.stop, see store/q_commands.h), so they share the command
 * path: MQTT 5 expiry, results, audit. The station decides what may be read (its
 * allowlist); the server refuses what can never be right (relative paths, `..`, control
 * characters, malformed unit names) before anything is sent. GET
 * /log-streams/{stream_id}/events relays the chunks as Server-Sent Events
 * (events/logview.h), resuming after Last-Event-ID.
 */
#include "handlers.h"

#include "../../core/app.h"
#include "../../events/logview.h"
#include "../../store/q_commands.h"
#include "../respond.h"
#include "../sse.h"
#include "ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GF_LOGS_PATH_MAX 1024
#define GF_LOGS_DURATION_DEFAULT_S 600
#define GF_LOGS_DURATION_MAX_S 86400

/* An absolute path without "." or ".." components, empty components or control bytes. */
static int path_ok(const char *p)
{
    if (p[0] != '/' || strlen(p) > GF_LOGS_PATH_MAX) {
        return 0;
    }
    for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return 0;
        }
    }
    for (const char *s = p; *s == '/';) {
        const char *e = strchr(s + 1, '/');
        size_t n = e ? (size_t)(e - s - 1) : strlen(s + 1);
        if (n == 0 || (n == 1 && s[1] == '.') || (n == 2 && s[1] == '.' && s[2] == '.')) {
            return 0;
        }
        s = e ? e : s + 1 + n;
    }
    return 1;
}

enum gf_err gf_h_logstreams_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"path", GF_JSON_STRING, 0, 1, 1, GF_LOGS_PATH_MAX, 0, 0},
        {"unit", GF_JSON_STRING, 0, 1, 1, GF_UNIT_NAME_MAX, 0, 0},
        {"lines", GF_JSON_INT, 0, 1, 0, 0, 0, 10000},
        {"follow", GF_JSON_BOOL, 0, 1, 0, 0, 0, 0},
        {"filter", GF_JSON_STRING, 0, 1, 1, 256, 0, 0},
        {"max_duration_s", GF_JSON_INT, 0, 1, 0, 0, 1, GF_LOGS_DURATION_MAX_S},
    };
    const char *node = gf_req_param(r, "node_id");
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL, *source = NULL, *args = NULL;
    char *stext = NULL, *atext = NULL, dur[24], label[300];
    enum gf_err err = gf_req_json(r, fields, sizeof(fields) / sizeof(fields[0]), &body);

    if (err != GF_OK) {
        return err;
    }
    const char *path = gf_json_str(body, "path"), *unit = gf_json_str(body, "unit");
    const char *filter = gf_json_str(body, "filter");
    if ((path == NULL) == (unit == NULL)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/path",
                          "give exactly one source: /path (a log file) or /unit (the journal)");
        goto out;
    }
    if (path != NULL && !path_ok(path)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/path",
                          "/path must be an absolute path without '.' or '..' components, "
                          "empty components or control characters");
        goto out;
    }
    if (unit != NULL && !gf_unit_name_ok(unit)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/unit",
                          "/unit must be a systemd unit name (A-Z, a-z, 0-9, '@', '.', '_', "
                          "':', '-'; not starting with '-')");
        goto out;
    }
    long long duration = gf_json_int(body, "max_duration_s", GF_LOGS_DURATION_DEFAULT_S);
    /* The source as the API shows it; the agent's args the same in milliseconds. */
    source = json_pack("{s:s?, s:s?, s:I, s:b, s:s?, s:I}", "path", path, "unit", unit, "lines",
                       (json_int_t)gf_json_int(body, "lines", 100), "follow",
                       gf_json_bool(body, "follow", 1), "filter", filter, "max_duration_s",
                       (json_int_t)duration);
    args = source ? json_deep_copy(source) : NULL;
    if (args != NULL && (json_object_del(args, "max_duration_s") != 0 ||
                         json_object_set_new(args, "max_duration_ms",
                                             json_integer(duration * 1000)) != 0)) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if (source == NULL || args == NULL || (stext = json_dumps(source, JSON_COMPACT)) == NULL ||
        (atext = json_dumps(args, JSON_COMPACT)) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_h_node_reachable(r, db, node, "log streams come from")) != GF_OK) {
        goto out;
    }
    snprintf(dur, sizeof(dur), "%lld", duration * 1000);
    const char *who = gf_req_requester(r, label, sizeof(label));
    const char *p[6] = {node, stext, dur, who, label, atext};
    if ((err = gf_db_exec(db, &gf_q_log_stream_insert, p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "log stream", NULL);
        goto out;
    }
    gf_req_audit_object(r, PQgetvalue(res, 0, 1));
    gf_req_audit_detail(r, json_pack("{s:s, s:O}", "node_id", node, "source", source));
    gf_req_kick_fleet(r);
    err = gf_reply_result(r, res, 201);
out:
    PQclear(res);
    free(stext);
    free(atext);
    json_decref(args);
    json_decref(source);
    json_decref(body);
    return err;
}

enum gf_err gf_h_logstreams_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "stream_id")};

    return gf_reply_row(r, &gf_q_log_stream_get, p, 200, "log stream");
}

/* DELETE: stop it (idempotent: a stream that ended already answers 204 too). */
enum gf_err gf_h_logstreams_delete(struct gf_req *r)
{
    char label[300];
    struct gf_dbconn *db;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    const char *who = gf_req_requester(r, label, sizeof(label));
    const char *p[3] = {gf_req_param(r, "stream_id"), label, who};
    if ((err = gf_db_exec(db, &gf_q_log_stream_stop, p, NULL)) != GF_OK) {
        return err;
    }
    gf_req_kick_fleet(r);
    gf_req_reply_empty(r, 204);
    return GF_OK;
}

/* GET events: the chunks after Last-Event-ID (header, or ?last_event_id=), then live. */
enum gf_err gf_h_logstreams_events(struct gf_req *r)
{
    struct gf_app *app = gf_req_app(r);
    uint64_t after = 0;
    struct gf_sse *s = NULL;
    struct gf_logview *view = NULL;
    enum gf_err err = gf_sse_last_event_id(r, "a chunk number of this stream", &after, NULL);

    if (err != GF_OK) {
        return err;
    }
    if (app->logviews == NULL) {
        return gf_req_fail(r, GF_ERR_UNAVAILABLE, "", "log streams are not available");
    }
    if ((err = gf_sse_open(r, &s)) != GF_OK) {
        return err;
    }
    if ((err = gf_logview_open(app->logviews, gf_req_param(r, "stream_id"), after, s, &view)) !=
        GF_OK) {
        return err;
    }
    return gf_sse_start(r, s, &gf_logview_source, view);
}
