/* SPDX-License-Identifier: Apache-2.0
 *
 * session.h - the agent's MQTT 5 session (paho MQTTAsync). Each connect bumps and persists
 * the session number first (<state_dir>/session), sets the Last Will (retained `state`
 * offline with that number) and, once connected, publishes the retained `state` online and
 * subscribes to `ack` and `desired`. Reconnecting is the caller's: gf_session_connect again after
 * GF_SEV_LOST (capped backoff with jitter in main.c), so every connection has its own
 * number. paho calls back on its own threads; events reach the main thread through a
 * mailbox (gf_session_wait), so the spool is only ever touched by the main thread.
 */
#ifndef GF_AGENT_SESSION_H
#define GF_AGENT_SESSION_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gf_session;

enum gf_session_event_kind {
    GF_SEV_NONE,
    GF_SEV_CONNECTED,
    GF_SEV_LOST,       /* connection lost or connect failed: reconnect later */
    GF_SEV_AUTH,       /* the broker refused our credentials: fetch new ones */
    GF_SEV_ACK,        /* the server committed telemetry up to seq of boot_id */
    GF_SEV_STATUS_ACK, /* the server committed the final bundle status `state` of gen seq */
    GF_SEV_CMD_ACK,    /* the server committed the final result of command `id` */
};

struct gf_session_event {
    enum gf_session_event_kind kind;
    char boot_id[64]; /* GF_SEV_ACK */
    char state[16];   /* GF_SEV_STATUS_ACK */
    char id[72];      /* GF_SEV_CMD_ACK */
    uint64_t seq;     /* GF_SEV_ACK: telemetry seq; GF_SEV_STATUS_ACK: the assignment's gen */
};

/* Called on a paho thread with each `desired` message (retained: also on every connect). */
typedef void (*gf_session_desired_fn)(void *ud, const void *payload, size_t len);

/* Called on a paho thread with each `cmd/req` message; expiry_ms is what is left of its
 * MQTT 5 message expiry (-1: none). Must return quickly. */
typedef void (*gf_session_cmd_fn)(void *ud, const void *payload, size_t len, long expiry_ms);

/* Plain value struct; strings borrowed for gf_session_new. */
struct gf_session_opts {
    const char *url, *client_id, *username, *password, *topic_root;
    const char *ca_file;  /* mqtts: CA bundle */
    const char *state_dir;
    const char *boot_id;
    int keepalive;
    gf_session_desired_fn on_desired; /* NULL: do not subscribe to `desired` */
    void *desired_ud;
    gf_session_cmd_fn on_command;     /* NULL: do not subscribe to `cmd/req` */
    void *command_ud;
    /* Seconds the broker keeps the session while the agent is away (clean start off), and
     * with it the commands sent meanwhile, each until its own expiry. 0: clean sessions. */
    long session_expiry;
};

enum gf_err gf_session_new(const struct gf_session_opts *o, struct gf_session **out);

/* Destroy the paho client, then free. A callback already running ends first and none runs
 * after it returns (MQTTAsync_destroy takes the lock paho runs callbacks under), also with a
 * connect in flight. Not from a callback. NULL is fine. */
void gf_session_free(struct gf_session *s);

/* Start one connection attempt (returns at once). */
enum gf_err gf_session_connect(struct gf_session *s);

/* Wait up to timeout_ms for an event; GF_SEV_NONE on timeout or after gf_session_wake. */
void gf_session_wait(struct gf_session *s, int timeout_ms, struct gf_session_event *ev);

/* Wake gf_session_wait (signal handlers use the self-pipe in main.c instead). */
void gf_session_wake(struct gf_session *s);

int gf_session_connected(struct gf_session *s);
uint64_t gf_session_number(struct gf_session *s);

/* QoS 1 publish under the topic root (suffix "birth", "health", "bundle/status").
 * GF_ERR_UNAVAILABLE when not connected. Any thread. */
enum gf_err gf_session_publish(struct gf_session *s, const char *suffix, const char *payload,
                               size_t len);

/* A command result (`cmd/res`, or the response topic of the request when it lies under
 * the topic root) with the command id as MQTT 5 correlation data. Any thread. */
enum gf_err gf_session_publish_result(struct gf_session *s, const char *id, const char *payload,
                                      size_t len);

/* QoS 1 publish of a log chunk on `logs/<stream>`, with at most max_inflight of them
 * unacknowledged: GF_ERR_UNAVAILABLE when that many are in flight or when not connected
 * (the caller keeps the chunk and tries again). Any thread. */
enum gf_err gf_session_publish_chunk(struct gf_session *s, const char *stream, const char *payload,
                                     size_t len, unsigned max_inflight);

/* Round-trip time of the last PUBACK in ms, -1 when none yet. */
long gf_session_rtt_ms(struct gf_session *s);

/* Disconnect without publishing anything (re-authentication). */
void gf_session_drop(struct gf_session *s);

/* Publish retained `state` offline (reason shutdown) and disconnect. */
void gf_session_close(struct gf_session *s);

#endif
