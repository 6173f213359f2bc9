/* SPDX-License-Identifier: Apache-2.0
 *
 * h_clusters.c - /api/v1/projects/{project_id}/clusters and /api/v1/clusters/{cluster_id}:
 * the MQTT broker clusters a project's nodes use. A cluster has a kind (mosquitto or emqx),
 * the URL agents connect to, optionally a different URL for the server, and the broker
 * admin credentials the server provisions node accounts with; the admin password is sealed
 * with the master key at rest and never returned. The server's MQTT side (server/mqtt/)
 * notices new and deleted clusters within a second and keeps one session per cluster.
 */
#include "handlers.h"

#include "../../core/app.h"
#include "../../core/secrets.h"
#include "../../store/q_clusters.h"
#include "../respond.h"
#include "gf_limits.h"
#include "mqtturl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gf_err gf_h_clusters_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[4] = {gf_req_param(r, "project_id"), pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_cluster_list, p, &pg);
}

enum gf_err gf_h_clusters_create(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"name", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
        {"kind", GF_JSON_STRING, 1, 0, 1, 16, 0, 0},
        {"agent_url", GF_JSON_STRING, 1, 0, 1, 255, 0, 0},
        {"server_url", GF_JSON_STRING, 0, 1, 1, 255, 0, 0},
        {"admin_username", GF_JSON_STRING, 1, 0, 1, 128, 0, 0},
        {"admin_password", GF_JSON_STRING, 1, 0, 1, 256, 0, 0},
    };
    char sealed[1200];
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, fields, sizeof(fields) / sizeof(fields[0]), &body);

    if (err != GF_OK) {
        return err;
    }
    const char *kind = gf_json_str(body, "kind"), *server_url = gf_json_str(body, "server_url");
    const char *password = gf_json_str(body, "admin_password");
    if (strcmp(kind, "mosquitto") != 0 && strcmp(kind, "emqx") != 0) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/kind", "/kind must be mosquitto or emqx");
    } else if (!gf_mqtt_url_valid(gf_json_str(body, "agent_url"))) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/agent_url",
                          "/agent_url must be mqtt://host:port or mqtts://host:port");
    } else if (server_url != NULL && !gf_mqtt_url_valid(server_url)) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/server_url",
                          "/server_url must be mqtt://host:port or mqtts://host:port");
    } else if (gf_secret_seal(gf_req_app(r)->master_key, password, strlen(password), sealed,
                              sizeof(sealed)) != GF_OK) {
        err = gf_req_fail(r, GF_ERR_INVAL, "/admin_password", "/admin_password is too long");
    }
    if (err != GF_OK || (err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *who = gf_req_who(r)->user_id;
    const char *p[8] = {gf_req_param(r, "project_id"),  gf_json_str(body, "name"), kind,
                        gf_json_str(body, "agent_url"), server_url,
                        gf_json_str(body, "admin_username"), sealed, who[0] ? who : NULL};
    if ((err = gf_db_exec(db, &gf_q_cluster_create, p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "a cluster with this name in the project", "/name");
        goto out;
    }
    gf_req_audit_object(r, PQgetvalue(res, 0, 2));
    gf_req_audit_detail(r, json_pack("{s:s, s:s}", "kind", kind, "agent_url",
                                     gf_json_str(body, "agent_url")));
    err = gf_reply_result(r, res, 201);
out:
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_clusters_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "cluster_id")};

    return gf_reply_row(r, &gf_q_cluster_get, p, 200, "cluster");
}

enum gf_err gf_h_clusters_delete(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "cluster_id")};

    return gf_reply_exec(r, &gf_q_cluster_delete, p, "cluster");
}
