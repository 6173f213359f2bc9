/* SPDX-License-Identifier: Apache-2.0
 *
 * q_projects.c - SQL for projects (see q_projects.h).
 */
#include "q_projects.h"

#include "q_sql.h"

const struct gf_stmt gf_q_project_list = {
    "project_list",
    "SELECT " GF_SQL_PROJECT_JSON("p") ", " GF_SQL_CURSOR("p") " FROM projects p"
    " WHERE p.tenant_id = $1 AND " GF_SQL_AFTER("p", "$2", "$3")
    " ORDER BY p.created_at, p.id LIMIT $4",
    4};

const struct gf_stmt gf_q_project_create = {
    "project_create",
    "INSERT INTO projects AS p (tenant_id, name, description) VALUES ($1, $2, coalesce($3, ''))"
    " RETURNING " GF_SQL_PROJECT_JSON("p") ", p.version, p.id",
    3};

const struct gf_stmt gf_q_project_get = {
    "project_get",
    "SELECT " GF_SQL_PROJECT_JSON("p") ", p.version FROM projects p WHERE p.id = $1", 1};

const struct gf_stmt gf_q_project_update = {
    "project_update",
    "UPDATE projects AS p SET name = coalesce($2, p.name),"
    " description = coalesce($3, p.description), updated_at = now(), version = p.version + 1"
    " WHERE p.id = $1 AND ($4::int IS NULL OR p.version = $4::int)"
    " RETURNING " GF_SQL_PROJECT_JSON("p") ", p.version",
    4};

const struct gf_stmt gf_q_project_delete = {"project_delete",
                                            "DELETE FROM projects WHERE id = $1", 1};
