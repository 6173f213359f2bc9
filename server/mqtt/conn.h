/* SPDX-License-Identifier: Apache-2.0
 *
 * conn.h - one MQTT 5 session of the server (paho.mqtt.c MQTTAsync): connect with
 * credentials, reconnect by itself (1 s to 30 s), re-subscribe after every connect, publish.
 * Messages are handed to on_msg on paho's receive thread; on_msg returns 0 to have paho
 * deliver the same message again later (backpressure when the ingest queue is full).
 * Thread-safe: publish from any thread.
 */
#ifndef GF_SERVER_MQTT_CONN_H
#define GF_SERVER_MQTT_CONN_H

#include "err.h"

#include <stddef.h>

struct gf_mconn;

#define GF_MCONN_SUBS 8

/* Called for each message; topic and payload are borrowed for the call. */
typedef int (*gf_mconn_msg_fn)(void *ud, struct gf_mconn *c, const char *topic,
                               const void *payload, size_t len);

/* Plain value struct; strings are copied by gf_mconn_start. */
struct gf_mconn_opts {
    const char *url;        /* mqtt://host:port or mqtts://host:port */
    const char *client_id;
    const char *username;
    const char *password;
    const char *ca_file;    /* mqtts: CA bundle, NULL = system store */
    int clean_start;
    int session_expiry;     /* seconds the broker keeps the session (and queues QoS 1) */
    int keepalive;
    const char *subs[GF_MCONN_SUBS]; /* topic filters subscribed at QoS 1 after every connect */
    size_t nsubs;
    gf_mconn_msg_fn on_msg;
    void *ud;
    const char *label;      /* for log lines, e.g. "ingest" */
    int no_reconnect;       /* 1: one connection only (a session taken over, takeover.c) */
};

/* Create and start connecting (returns at once). GF_ERR_CONFIG for a bad URL, GF_ERR_NOMEM. */
enum gf_err gf_mconn_start(const struct gf_mconn_opts *opts, struct gf_mconn **out);

/* Successful connects so far (a change means the broker may have lost retained messages). */
unsigned gf_mconn_connects(const struct gf_mconn *c);

/* 1 when the broker said it resumed our session (Session Present) on the current connection
 * (every connect, reconnects included: conn.c reconnects by itself), 0 when it did not. */
int gf_mconn_session_present(const struct gf_mconn *c);

/* 1 while connected. */
int gf_mconn_connected(const struct gf_mconn *c);

/* Publish (QoS 0 or 1, retain flag). GF_ERR_UNAVAILABLE when not connected (paho keeps no
 * offline buffer here: callers own redelivery), GF_ERR_IO. */
enum gf_err gf_mconn_publish(struct gf_mconn *c, const char *topic, const void *payload,
                             size_t len, int qos, int retain);

/* The same, giving the delivery token (its outcome: gf_mconn_flush, gf_mconn_outcome). */
enum gf_err gf_mconn_publish_token(struct gf_mconn *c, const char *topic, const void *payload,
                                   size_t len, int qos, int retain, int *token);

/* MQTT 5 request properties (commands): message expiry in seconds (0: none), response topic
 * and correlation data (NULL: none). Strings are borrowed for the call. */
struct gf_mconn_req {
    int expiry_s;
    const char *response_topic;
    const void *corr;
    size_t corr_len;
};

/* Publish a QoS 1 request with those properties; the token as for gf_mconn_publish_token. */
enum gf_err gf_mconn_publish_req(struct gf_mconn *c, const char *topic, const void *payload,
                                 size_t len, const struct gf_mconn_req *req, int *token);

/* The broker's Receive Maximum from its last CONNACK (20 before the first). */
unsigned gf_mconn_receive_max(const struct gf_mconn *c);

/* Returns at once while fewer than max_inflight publishes of this session are
 * unacknowledged; at max_inflight, waits up to timeout_ms until no more than half of them
 * are (GF_ERR_TIMEOUT otherwise, or at once when the session is down), so that a full
 * window is refilled in one go rather than one wake-up per acknowledgement. Publishing
 * past the broker's Receive Maximum makes paho park messages until its send thread wakes
 * up by itself (up to a second). */
enum gf_err gf_mconn_window(struct gf_mconn *c, unsigned long max_inflight, long timeout_ms);

/* Wait up to timeout_ms until no publish of this session is in flight: each was acknowledged
 * or refused (then gf_mconn_outcome tells which), GF_ERR_TIMEOUT otherwise, also when the
 * connection was lost. Compare gf_mconn_connects before and after: publishes of a lost
 * connection are counted done without an answer. For batches: one wait, exact outcomes. */
enum gf_err gf_mconn_flush(struct gf_mconn *c, long timeout_ms);

/* Completions (PUBACKs, refusals) of publishes sent on an earlier connection that came
 * after the next connect, which had written them off: not counted as done again. */
unsigned long gf_mconn_late(struct gf_mconn *c);

/* After a GF_OK gf_mconn_flush, the outcome of the QoS 1 publish of token sent before it:
 * GF_OK when the broker acknowledged it, GF_ERR_PERM when it refused it (or no answer is
 * known). Valid until 65,535 more publishes reuse the token. */
enum gf_err gf_mconn_outcome(struct gf_mconn *c, int token);

/* Unsubscribe from filters[0..n-1] (n <= GF_MCONN_SUBS; returns once sent; the broker's
 * answer is not waited for). GF_ERR_UNAVAILABLE when not connected. */
enum gf_err gf_mconn_unsubscribe(struct gf_mconn *c, const char *const *filters, size_t n);

/* Disconnect (waiting up to 2 s for in-flight messages) and stop reconnecting; the handle
 * stays valid (publish answers GF_ERR_UNAVAILABLE), so work that still refers to it can
 * finish. NULL is a no-op. */
void gf_mconn_disconnect(struct gf_mconn *c);

/* gf_mconn_disconnect, ending the session at the broker as well (the DISCONNECT sets its
 * expiry to 0): what it still queued is discarded. NULL is a no-op. */
void gf_mconn_end_session(struct gf_mconn *c);

/* Disconnect if needed and free. Nothing may use c afterwards. NULL is a no-op. */
void gf_mconn_stop(struct gf_mconn *c);

#endif
