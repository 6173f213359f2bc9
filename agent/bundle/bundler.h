/* SPDX-License-Identifier: Apache-2.0
 *
 * bundler.h - the agent's bundle thread: from a `desired` message to an applied (or refused,
 * or rolled back) configuration, reported step by step on bundle/status.
 *
 * For each desired message (the newest wins; older ones waiting are dropped):
 *   1. trust: when the message names a newer trust statement than the agent's root
 *      (<state_dir>/bundles/trust.json), fetch the statements after it and advance one seq
 *      at a time, each signed by a key of the previous root (sign.h); the very first root is
 *      the pinned trust_file, else statement 1 from the server, which must be signed by one
 *      of its own keys (trust on first use);
 *   2. downloading: the signed manifest envelope, then every blob not yet in the cache
 *      (<state_dir>/bundles/blobs), resumed with Range from a ".part" file, capped at the
 *      size the manifest declares;
 *   3. verifying: signature by a key of the root, project of the root, node (when rendered
 *      per node) this node, not expired and not expiring before the newest created_at ever
 *      accepted (a clock set back cannot revive an old manifest), version above the
 *      installed high-water mark of its name (equal with another content: conflict), every
 *      action in the local map, every blob's size and SHA-256;
 *   4. applying: apply.h (stage, switch, actions, health check, commit or roll back).
 * Refusals are reported as `failed` with the typed reason (manifest.h gf_reject_str) and
 * leave the active configuration untouched. Network failures are retried with capped
 * backoff until a newer desired message arrives.
 * Thread-safe: gf_bundler_desired may be called from any thread.
 */
#ifndef GF_AGENT_BUNDLER_H
#define GF_AGENT_BUNDLER_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gf_bundler;
struct gf_session;
struct gf_identity;
struct gf_agent_config;

/* Plain value struct; everything borrowed for the bundler's life. */
struct gf_bundler_opts {
    const struct gf_agent_config *cfg;
    const struct gf_identity *id;
    const char *node_id;
    struct gf_session *session; /* status reports; may be replaced with gf_bundler_session */
};

/* Recover an interrupted apply (apply.h), load the local action map and start the thread.
 * GF_ERR_CONFIG (diag) for a bad actions_file or trust_file. */
enum gf_err gf_bundler_start(const struct gf_bundler_opts *o, struct gf_bundler **out,
                             struct gf_diag *diag);

/* A `desired` message arrived (copied). Any thread. */
void gf_bundler_desired(struct gf_bundler *b, const void *payload, size_t len);

/* The session reports go to (after re-authentication the main loop makes a new one). */
void gf_bundler_session(struct gf_bundler *b, struct gf_session *s);

/* The server acknowledged the final report `state` of assignment gen (an `ack` with
 * status_gen): it is no longer sent again. Any thread. */
void gf_bundler_status_acked(struct gf_bundler *b, uint64_t gen, const char *state);

/* Stop the thread (an apply in progress finishes its current step first) and free. */
void gf_bundler_stop(struct gf_bundler *b);

/* The applied bundle as JSON text for the birth message ({"bundle_id", "name", "version",
 * "manifest_sha256"} or "null"), into out. */
void gf_bundler_applied(struct gf_bundler *b, char *out, size_t cap);

#endif
