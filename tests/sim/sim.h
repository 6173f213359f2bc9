/* SPDX-License-Identifier: Apache-2.0
 *
 * sim.h - the shared parts of the fleet simulator (tests/sim/fleetsim): the run context,
 * one virtual node, the minimal MQTT 5 client over non-blocking sockets (sim_conn.c), the
 * agent's health protocol (sim_health.c) and the timer heap (sim_timers.c). The modes sit
 * on top: ingest, echo and sink in fleetsim.c, the bundle-protocol fleet mode in
 * fleet_mode.c (fleet.h), whose nodes also answer remote commands (fleet_cmd.c).
 *
 * A test tool: one thread, one epoll loop, no locking. Every buffer has a fixed capacity
 * chosen per mode at start (a node in fleet mode reads a small desired message, so its
 * buffers are a fraction of an ingest node's); what does not fit is dropped and counted.
 */
#ifndef GF_SIM_H
#define GF_SIM_H

#include <stddef.h>
#include <stdint.h>

#define GF_SIM_MAX_NODES 20000
#define GF_SIM_SAMPLE_BYTES 640       /* one health sample's JSON, about */
#define GF_SIM_BATCH_MAX (256 * 1024) /* one health message */

enum gf_sim_state {
    GF_SIM_DOWN,       /* no socket */
    GF_SIM_CONNECTING, /* TCP connect and CONNECT sent, waiting for CONNACK */
    GF_SIM_READY,      /* CONNACK accepted */
    GF_SIM_DEAD,       /* the connection failed; the mode decides what comes next */
};

/* One virtual node (or the sink connection of echo mode). */
struct gf_sim_node {
    int idx; /* position in gf_sim.nodes */
    int fd;
    enum gf_sim_state st;
    char id[40], pw[72];
    char behaviour[16]; /* the creds file's optional third column, "" when absent */
    int sink;
    unsigned char *rbuf, *wbuf; /* allocated at the first connect, kept across reconnects */
    size_t rcap, rlen, wcap, wlen;
    uint16_t pid;
    int want_out; /* EPOLLOUT registered */
    int inflight_pubacks;
    int64_t last_tx_us; /* last packet queued: keep-alive pings */
    uint64_t session;   /* the agent's session number (docs/mqtt.md) */
    /* health protocol (sim_health.c) */
    uint64_t seq;       /* last sample made */
    uint64_t acked;     /* highest seq acknowledged by the server */
    uint64_t sent_upto; /* last seq of the batch in flight, 0 = none */
    int64_t sent_at_us;
    int64_t next_sample_us;
};

/* An incoming PUBLISH, borrowed from the node's read buffer (valid during the callback),
 * with the MQTT 5 properties of a request (commands: docs/mqtt.md). */
struct gf_sim_msg {
    const char *topic;
    size_t tlen;
    const unsigned char *payload;
    size_t plen;
    int qos, retain;
    const char *resp_topic; /* Response Topic (0x08), not NUL-terminated; NULL when absent */
    size_t resp_len;
    const unsigned char *corr; /* Correlation Data (0x09); NULL when absent */
    size_t corr_len;
    int64_t expiry_s; /* Message Expiry Interval (0x02) as the broker forwarded it; -1: none */
};

struct gf_sim;

/* What a mode does with its connections' events. */
struct gf_sim_hooks {
    /* CONNACK: ok = accepted (reason 0), else refused with reason (the socket is closed
     * already, st is GF_SIM_DOWN). */
    void (*on_connack)(struct gf_sim *s, struct gf_sim_node *n, int ok, int reason);
    /* A PUBLISH arrived. Return 0 to acknowledge it (QoS 1), 1 when the mode dropped the
     * connection meanwhile (then nothing more is read or sent on it). */
    int (*on_publish)(struct gf_sim *s, struct gf_sim_node *n, const struct gf_sim_msg *m);
    /* The connection failed or the broker closed it (socket closed, st is GF_SIM_DEAD). */
    void (*on_lost)(struct gf_sim *s, struct gf_sim_node *n);
};

/* The run: options, connections, counters. */
struct gf_sim {
    int epfd;
    char host[64];
    int port;
    struct gf_sim_node *nodes; /* nnodes nodes, then room for the sink */
    int nnodes;
    char boot[40];
    const struct gf_sim_hooks *hooks;
    void *mode;        /* the mode's own state, for its hooks (borrowed) */
    size_t rcap, wcap; /* per-node buffer sizes of this mode */
    int keepalive;     /* seconds, in CONNECT */
    /* health */
    long interval_ms; /* sample interval; 0 = no health (fleet mode only) */
    int max_batch;
    int64_t window_start, window_end;
    char sample[GF_SIM_SAMPLE_BYTES + 1];
    /* counters */
    uint64_t made, acked_samples, sink_samples, batches_sent, resends, publishes, wfull;
    uint64_t made_w, acked_w, sink_w, publish_refused;
    uint64_t malformed; /* PUBLISH packets in that could not be decoded (not acknowledged) */
};

/* Will of a CONNECT (retained, QoS 1), or none. */
struct gf_sim_will {
    const char *topic;
    const char *payload;
    size_t len;
};

/* ---- sim_conn.c: the MQTT 5 client */

int64_t gf_sim_now_us(void);  /* CLOCK_MONOTONIC */
int64_t gf_sim_wall_ms(void); /* CLOCK_REALTIME, ms since the epoch */

/* Open a non-blocking TCP connection to the broker and queue CONNECT (clean start, the
 * context's keep-alive, user and password, optional will). Allocates the node's buffers
 * at the first call. 0, or -1 when no socket could be made (errno says why). */
int gf_sim_connect(struct gf_sim *s, struct gf_sim_node *n, const char *client_id, const char *user,
                   const char *pw, const struct gf_sim_will *will);

/* Close the socket without DISCONNECT (the broker publishes the Will); st = GF_SIM_DOWN. */
void gf_sim_drop(struct gf_sim *s, struct gf_sim_node *n);

/* Queue a PUBLISH (qos 0 or 1). 0, or -1 when the send buffer is full (counted in wfull). */
int gf_sim_publish(struct gf_sim *s, struct gf_sim_node *n, const char *topic, const char *payload,
                   size_t plen, int qos, int retain);

/* The same, not retained, with MQTT 5 Correlation Data (corr, clen bytes, at most 0xffff;
 * NULL: none) in its properties: the answer to a request. */
int gf_sim_publish_corr(struct gf_sim *s, struct gf_sim_node *n, const char *topic,
                        const char *payload, size_t plen, int qos, const void *corr, size_t clen);

/* Queue a SUBSCRIBE of one filter at QoS 1. */
void gf_sim_subscribe(struct gf_sim *s, struct gf_sim_node *n, const char *filter);

/* Queue a PINGREQ, or a DISCONNECT (reason 0: the broker discards the Will). */
void gf_sim_ping(struct gf_sim *s, struct gf_sim_node *n);
void gf_sim_disconnect(struct gf_sim *s, struct gf_sim_node *n);

/* Write what is queued; registers for EPOLLOUT while something is left. */
void gf_sim_flush(struct gf_sim *s, struct gf_sim_node *n);

/* Read what arrived and dispatch whole packets to the hooks. */
void gf_sim_readable(struct gf_sim *s, struct gf_sim_node *n);

/* ---- sim_health.c: the agent's health protocol (docs/mqtt.md) */

/* The sample every node sends (about GF_SIM_SAMPLE_BYTES of plausible JSON). */
void gf_sim_health_init(struct gf_sim *s);

/* Make a sample when due, send a batch when none is in flight, resend after 10 s. */
void gf_sim_health_tick(struct gf_sim *s, struct gf_sim_node *n, int64_t now_us);

/* An `ack` message for this node: advance, then send the next batch. */
void gf_sim_health_ack(struct gf_sim *s, struct gf_sim_node *n, const unsigned char *payload,
                       size_t len);

/* ---- sim_timers.c: one timer per node, a binary min-heap indexed by node */

struct gf_sim_timers;

/* A heap for nodes 0 … n-1. Caller owns the result (free with gf_sim_timers_free); NULL
 * when out of memory. */
struct gf_sim_timers *gf_sim_timers_new(int n);
void gf_sim_timers_free(struct gf_sim_timers *t);

/* Arm (or re-arm) node idx's timer for due_us; cancel it. */
void gf_sim_timers_set(struct gf_sim_timers *t, int idx, int64_t due_us);
void gf_sim_timers_cancel(struct gf_sim_timers *t, int idx);

/* The earliest due time, or INT64_MAX when no timer is armed. */
int64_t gf_sim_timers_next(const struct gf_sim_timers *t);

/* Disarm and return a node whose timer is due at now_us, or -1. */
int gf_sim_timers_pop(struct gf_sim_timers *t, int64_t now_us);

#endif
