/* SPDX-License-Identifier: Apache-2.0
 *
 * q_events.h - statements of the project event feed (migrations/0006_events.sql). Every
 * event comes back as seq (text), project_id, kind and the feed's JSON of it
 * (gf_event_json), ordered by seq, the commit order.
 */
#ifndef GF_SERVER_Q_EVENTS_H
#define GF_SERVER_Q_EVENTS_H

#include "db.h"

/* -> the highest seq (0 when there is no event) */
extern const struct gf_stmt gf_q_event_max;
/* $1 after seq, $2 limit -> seq, project_id, kind, json of every project's events */
extern const struct gf_stmt gf_q_event_after;
/* $1 seq -> seq, project_id, kind, json */
extern const struct gf_stmt gf_q_event_get;
/* $1 project, $2 after seq, $3 limit -> seq, project_id, kind, json of one project */
extern const struct gf_stmt gf_q_event_project_after;
/* $1 project, $2 n -> the seq just before the project's n most recent events (or the
 * highest seq when it has fewer) */
extern const struct gf_stmt gf_q_event_project_recent;

#endif
