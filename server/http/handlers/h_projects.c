/* SPDX-License-Identifier: Apache-2.0
 *
 * h_projects.c - /api/v1/tenants/{tenant_id}/projects and /api/v1/projects/{project_id}:
 * a tenant's projects (the unit that owns nodes, bundles and rollouts). Names are unique
 * within a tenant (409).
 */
#include "handlers.h"

#include "../../store/q_projects.h"
#include "../respond.h"
#include "gf_limits.h"

#include <stdio.h>

static const struct gf_json_field create_fields[] = {
    {"name", GF_JSON_STRING, 1, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
    {"description", GF_JSON_STRING, 0, 1, 0, GF_LIMIT_DESCRIPTION_CHARS, 0, 0},
};

static const struct gf_json_field update_fields[] = {
    {"name", GF_JSON_STRING, 0, 0, 1, GF_LIMIT_NAME_CHARS, 0, 0},
    {"description", GF_JSON_STRING, 0, 1, 0, GF_LIMIT_DESCRIPTION_CHARS, 0, 0},
};

enum gf_err gf_h_projects_list(struct gf_req *r)
{
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    const char *p[4] = {gf_req_tenant(r), pg.cursor_us, pg.cursor_id, pg.fetch};
    return gf_reply_list(r, &gf_q_project_list, p, &pg);
}

enum gf_err gf_h_projects_create(struct gf_req *r)
{
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, create_fields, 2, &body);

    if (err == GF_OK) {
        err = gf_req_db(r, &db);
    }
    if (err != GF_OK) {
        json_decref(body);
        return err;
    }
    const char *p[3] = {gf_req_tenant(r), gf_json_str(body, "name"),
                        gf_json_str(body, "description")};
    err = gf_db_exec(db, &gf_q_project_create, p, &res);
    if (err != GF_OK) {
        err = gf_req_db_fail(r, err, "a project with this name in the tenant", "/name");
    } else {
        gf_req_audit_object(r, PQgetvalue(res, 0, 2));
        gf_req_audit_detail(r, json_pack("{s:s}", "name", gf_json_str(body, "name")));
        err = gf_reply_result(r, res, 201);
    }
    PQclear(res);
    json_decref(body);
    return err;
}

enum gf_err gf_h_projects_get(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "project_id")};

    return gf_reply_row(r, &gf_q_project_get, p, 200, "project");
}

enum gf_err gf_h_projects_update(struct gf_req *r)
{
    const char *version;
    json_t *body = NULL;
    enum gf_err err = gf_req_json(r, update_fields, 2, &body);

    if (err == GF_OK) {
        err = gf_req_if_match(r, &version);
    }
    if (err == GF_OK) {
        const char *p[4] = {gf_req_param(r, "project_id"), gf_json_str(body, "name"),
                            gf_json_str(body, "description"), version};
        err = gf_reply_row(r, &gf_q_project_update, p, 200, "project");
        if (err == GF_ERR_NOTFOUND) {
            err = gf_req_fail(r, GF_ERR_PRECONDITION, "If-Match",
                              "the project was changed by someone else; read it again");
        } else if (err == GF_ERR_EXISTS) {
            err = gf_req_fail(r, err, "/name", "a project with this name exists in the tenant");
        }
    }
    json_decref(body);
    return err;
}

enum gf_err gf_h_projects_delete(struct gf_req *r)
{
    const char *p[1] = {gf_req_param(r, "project_id")};

    return gf_reply_exec(r, &gf_q_project_delete, p, "project");
}
