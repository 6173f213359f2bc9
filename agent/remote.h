/* SPDX-License-Identifier: Apache-2.0
 *
 * remote.h - remote control of the station: the glue between the MQTT session's `cmd/req`
 * messages, the command runner (cmd/cmd.h) and the log streams (logs/logs.h).
 *
 * logs.stream.start / logs.stream.stop requests (the server's log-stream routes) go to the
 * log streams; every other request goes to the command runner. Built-ins that need the main
 * thread's state (health.now takes a fresh sample with the collectors, inventory.refresh
 * sends a new birth message) are handed to the main loop, which polls gf_remote_wanted()
 * after each wake-up and answers with gf_remote_done().
 */
#ifndef GF_AGENT_REMOTE_H
#define GF_AGENT_REMOTE_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>

struct gf_agent_config;
struct gf_bundler;
struct gf_session;
struct gf_remote;

/* Work the main thread does for a built-in. */
enum gf_remote_want { GF_REMOTE_NONE, GF_REMOTE_SAMPLE, GF_REMOTE_BIRTH };

/* Load the allowlists and start the runner and the log streams thread. restart is called
 * (on a runner thread) after agent.restart recorded and published its result; the main
 * loop is woken right after it returns. */
enum gf_err gf_remote_new(const struct gf_agent_config *cfg, struct gf_bundler *bundler,
                          void (*restart)(void *ud), void *ud, struct gf_remote **out,
                          struct gf_diag *diag);

/* The session to publish results and chunks on (NULL while re-enrolling); borrowed until it
 * is replaced. Returns once no thread publishes on the session it replaced, which may then
 * be freed. Main thread only; the main loop is woken on s (gf_session_wake) for built-ins
 * and agent.restart. */
void gf_remote_session(struct gf_remote *r, struct gf_session *s);

/* A `cmd/req` payload (the session's callback, on a paho thread). */
void gf_remote_request(struct gf_remote *r, const void *payload, size_t len, long expiry_ms);

/* The broker is reachable again: retry log chunks now. */
void gf_remote_connected(struct gf_remote *r);

/* Main thread, every turn of its loop: send again the final results the server has not
 * acknowledged in time (and any not sent yet). */
void gf_remote_tick(struct gf_remote *r);

/* The server acknowledged the final result of command id (an `ack` with cmd_id): it is no
 * longer sent again. Any thread. */
void gf_remote_result_acked(struct gf_remote *r, const char *id);

/* Main thread: what a built-in waits for (GF_REMOTE_NONE: nothing). */
enum gf_remote_want gf_remote_wanted(struct gf_remote *r);

/* Main thread: the answer to what gf_remote_wanted asked (a new reference is taken; NULL
 * when it could not be done). */
void gf_remote_done(struct gf_remote *r, enum gf_remote_want what, json_t *result);

/* Stop the runner and the streams (running commands are killed) and free. NULL is fine. */
void gf_remote_free(struct gf_remote *r);

#endif
