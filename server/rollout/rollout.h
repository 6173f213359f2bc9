/* SPDX-License-Identifier: Apache-2.0
 *
 * rollout.h - the operations on one rollout that both the REST handlers and the engine
 * perform, each inside the caller's transaction with the rollout's row locked: taking the
 * target snapshot, the operator's start / pause / resume / cancel, and recording a state
 * change (an audit event by the system when the engine made it, and an event on the
 * project's feed either way). The state machines are in docs/internals/rollout.md.
 */
#ifndef GF_SERVER_ROLLOUT_H
#define GF_SERVER_ROLLOUT_H

#include "err.h"

#include <jansson.h>

struct gf_dbconn;
struct gf_rollout_spec;

/* Take the targets: accepted nodes of the project matching the spec's target, each in the
 * wave its position gives (nodes that do not fit the bundle's own target are `skipped`);
 * for a continuous rollout's later look (first_wave = the last wave), only nodes not yet
 * targets. GF_ERR_CONFLICT (diag lists up to 10 nodes held by other rollouts),
 * GF_ERR_UNPROCESSABLE when no node matches and the rollout is not continuous. *added
 * receives the number of new targets. */
enum gf_err gf_rollout_snapshot(struct gf_dbconn *db, const char *id, const char *project,
                                const char *bundle, const struct gf_rollout_spec *s,
                                const json_t *spec, int first_wave, long *added,
                                struct gf_diag *diag);

/* Operator actions on a locked rollout row: "start" (draft -> scheduled or running, taking
 * the snapshot), "pause", "resume", "cancel". GF_ERR_CONFLICT (diag) when the state does
 * not allow it; *kind receives the event kind recorded ("started", "paused", ...). */
enum gf_err gf_rollout_act(struct gf_dbconn *db, const char *id, const char *action,
                           const char **kind, struct gf_diag *diag);

/* Set the state (pause reason and reason in words: NULL clears them) and the current wave;
 * a final state lets the targets go (rollout_targets.holds). */
enum gf_err gf_rollout_set(struct gf_dbconn *db, const char *id, const char *state,
                           const char *pause, const char *reason, int wave);

/* Record a rollout event: project_events (kind "rollout.<kind>", data {rollout_id, state,
 * reason, ...detail}), and when system is set an audit event with actor "system". detail
 * may be NULL (borrowed). NOTIFY gf_rollout wakes the engines of every replica. */
enum gf_err gf_rollout_event(struct gf_dbconn *db, const char *id, const char *kind,
                             const json_t *detail, int system);

#endif
