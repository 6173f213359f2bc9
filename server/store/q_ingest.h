/* SPDX-License-Identifier: Apache-2.0
 *
 * q_ingest.h - statements of the MQTT ingest and the fleet housekeeping (mqtt/ingest.c,
 * mqtt/fleet.c). Batches travel as one JSON array parameter (jsonb_to_recordset), so a
 * batch of any size is one statement.
 */
#ifndef GF_SERVER_Q_INGEST_H
#define GF_SERVER_Q_INGEST_H

#include "db.h"

/* $1 json array of node ids: lock the accepted ones (in id order) -> id */
extern const struct gf_stmt gf_q_ingest_lock;
/* $1 json [{n, b, s, a, v, k}] (node, boot, seq, at, sample, keep) -> node, boot, high-water
 * mark, inserted count (every row), latest-updated count */
extern const struct gf_stmt gf_q_ingest_health;
/* $1 json [{n, session, boot, dropped}] -> last seen, dropped; online for newer sessions */
extern const struct gf_stmt gf_q_ingest_seen;
/* $1 node, $2 online, $3 session, $4 boot, $5 reason -> gf_node_seen() result */
extern const struct gf_stmt gf_q_ingest_presence;
/* $1 node, $2 inventory json, $3 agent version, $4 health interval s, $5 keepalive s,
 * $6 clock offset ms, $7 boot, $8 session */
extern const struct gf_stmt gf_q_ingest_birth;
/* -> node ids marked offline as overdue */
extern const struct gf_stmt gf_q_overdue;
/* $1 days back, $2 days ahead -> partitions created */
extern const struct gf_stmt gf_q_health_partitions;
/* $1 keep days -> partitions dropped */
extern const struct gf_stmt gf_q_health_retention;
/* $1 keep days: forget telemetry cursors of boots not heard from since */
extern const struct gf_stmt gf_q_cursor_prune;

#endif
