/* SPDX-License-Identifier: Apache-2.0
 *
 * cmdout.h - the command outbox: publish due commands of one broker cluster as MQTT 5
 * requests (see cmdout.c), end the commands past their deadline, and delete old log chunks.
 * All run on the fleet thread with its database connection.
 */
#ifndef GF_SERVER_MQTT_CMDOUT_H
#define GF_SERVER_MQTT_CMDOUT_H

#include "../store/db.h"

struct gf_mconn;

/* One round for cluster over session pc: rows published (0 when none were due, the
 * session is down or another replica holds the publishers' lock). */
int gf_cmdout_publish(struct gf_dbconn *db, const char *cluster, struct gf_mconn *pc);

/* Commands past their deadline: running -> timed_out, queued/sent -> expired; log streams
 * past their end or without a viewer for a minute are stopped. About once a second. */
void gf_cmdout_sweep(struct gf_dbconn *db);

/* Log chunks older than an hour deleted (hourly, with the other maintenance). */
enum gf_err gf_cmdout_prune(struct gf_dbconn *db);

#endif
