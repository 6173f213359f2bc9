/* SPDX-License-Identifier: Apache-2.0
 *
 * q_projects.h - statements for projects (column conventions as in respond.h).
 */
#ifndef GF_SERVER_Q_PROJECTS_H
#define GF_SERVER_Q_PROJECTS_H

#include "db.h"

/* $1 tenant, $2 cursor us, $3 cursor id, $4 fetch */
extern const struct gf_stmt gf_q_project_list;
/* $1 tenant, $2 name, $3 description -> json, version, id */
extern const struct gf_stmt gf_q_project_create;
/* $1 id -> json, version */
extern const struct gf_stmt gf_q_project_get;
/* $1 id, $2 name, $3 description (NULL keeps), $4 if-match version -> json, version */
extern const struct gf_stmt gf_q_project_update;
/* $1 id */
extern const struct gf_stmt gf_q_project_delete;

#endif
