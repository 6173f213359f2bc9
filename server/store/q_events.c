/* SPDX-License-Identifier: Apache-2.0
 *
 * q_events.c - SQL of the project event feed (see q_events.h). The listener runs these on
 * its own connection (PQexecParams with .sql), handlers on pooled ones (gf_db_exec).
 */
#include "q_events.h"

#define EVENT_COLS "e.seq, e.project_id, e.kind, gf_event_json(e)"

const struct gf_stmt gf_q_event_max = {"event_max",
                                       "SELECT coalesce(max(seq), 0) FROM project_events", 0};

const struct gf_stmt gf_q_event_after = {"event_after",
                                         "SELECT " EVENT_COLS
                                         " FROM project_events e WHERE e.seq > $1::bigint"
                                         " ORDER BY e.seq LIMIT $2::int",
                                         2};

const struct gf_stmt gf_q_event_get = {
    "event_get", "SELECT " EVENT_COLS " FROM project_events e WHERE e.seq = $1::bigint", 1};

const struct gf_stmt gf_q_event_project_after = {
    "event_project_after",
    "SELECT " EVENT_COLS " FROM project_events e WHERE e.project_id = $1::uuid"
    " AND e.seq > $2::bigint ORDER BY e.seq LIMIT $3::int",
    3};

const struct gf_stmt gf_q_event_project_recent = {
    "event_project_recent",
    "SELECT coalesce((SELECT min(seq) - 1 FROM (SELECT seq FROM project_events"
    " WHERE project_id = $1::uuid AND seq IS NOT NULL ORDER BY seq DESC LIMIT $2::int) r),"
    " (SELECT coalesce(max(seq), 0) FROM project_events))",
    2};
