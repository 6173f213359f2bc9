/* SPDX-License-Identifier: Apache-2.0
 *
 * takeover.h - draining the broker sessions of a replica that is gone. Every replica's
 * ingest session is persistent and keeps its share of the shared subscriptions while
 * disconnected, so messages routed to a replica that never comes back would wait in the
 * broker until the session expires, then be lost. Each replica writes a heartbeat once a
 * second (table server_replicas); a live one claims a replica silent for replica_stale_s,
 * resumes its ingest session on every cluster (same client id, clean start off, one
 * connection: no reconnecting), hands what the broker delivers to its own ingest,
 * unsubscribes once the session is quiet, disconnects with session expiry 0 (the broker
 * discards the session) and deletes the row. One claimed replica at a time; fleet thread only.
 * See docs/internals/ingest.md, "Replicas that are gone".
 */
#ifndef GF_SERVER_MQTT_TAKEOVER_H
#define GF_SERVER_MQTT_TAKEOVER_H

#include "buf.h"
#include "conn.h"
#include "err.h"

#include <stddef.h>

struct gf_dbconn;
struct gf_ingest;
struct gf_takeover;

#define GF_TAKEOVER_ID_MAX 24 /* replica ids are 8 characters */

/* ing receives the drained messages; replica is this replica's id (copied). */
enum gf_err gf_takeover_new(struct gf_ingest *ing, const char *replica, struct gf_takeover **out);

/* Once a second: the heartbeat and, when can_claim (this replica's own ingest sessions are
 * up) and no claim is in progress, a claim of a replica silent for stale_s (one silent for
 * longer than expiry_s has no session left: its row is deleted). Returns 1 when one was
 * claimed: its id is in dead; the caller then adds its sessions (gf_takeover_add) and calls
 * gf_takeover_claimed. */
int gf_takeover_beat(struct gf_takeover *t, struct gf_dbconn *db, long stale_s, long expiry_s,
                     int can_claim, char dead[GF_TAKEOVER_ID_MAX]);

/* Resume one session of the claimed replica: o is its ingest session's options (client id,
 * account, filters in o->subs, session expiry); on_msg, ud, clean start and reconnecting
 * are set here. The filters are unsubscribed once the session is quiet. A failure gives the
 * claim back when it is settled. */
enum gf_err gf_takeover_add(struct gf_takeover *t, const struct gf_mconn_opts *o);

/* After the adds: with no session to drain, the claim is settled at once. */
void gf_takeover_claimed(struct gf_takeover *t, struct gf_dbconn *db);

/* On every pass of the fleet loop: drive the sessions being drained; once all are done the
 * replica's row is deleted (or the claim given back when one could not be drained). */
void gf_takeover_tick(struct gf_takeover *t, struct gf_dbconn *db);

/* Disconnect every session (shutdown, before the ingest stops taking messages). */
void gf_takeover_stop(struct gf_takeover *t);

/* Prometheus text of the counters. */
enum gf_err gf_takeover_metrics(struct gf_takeover *t, struct gf_buf *out);

/* Free, sessions included: after the ingest writers stopped (queued messages refer to the
 * sessions for their acks). NULL is a no-op. */
void gf_takeover_free(struct gf_takeover *t);

#endif
