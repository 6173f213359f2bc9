/* SPDX-License-Identifier: Apache-2.0
 *
 * conn.c - the server's MQTT 5 sessions over paho MQTTAsync (see conn.h). Each session has
 * a small thread of its own that connects again after a lost connection, a DISCONNECT from
 * the broker or a failed attempt (1 s, doubling up to 30 s): paho's automatic reconnect
 * would do the same but does not report the CONNACK of its reconnects, so whether the
 * broker kept the session (and the server need not publish every desired message again)
 * would be unknown. The connected callback (every connect) subscribes again, so a broker
 * that lost its state (restart without persistence) gets the subscriptions back.
 */
#define GF_LOG_MODULE "mqtt"

#include "conn.h"

#include "alloc.h"
#include "log.h"
#include "mqtturl.h"

#include <MQTTAsync.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GF_MCONN_RETRY_MIN_S 1  /* first pause before connecting again */
#define GF_MCONN_RETRY_MAX_S 30 /* the longest, after repeated failures */

/* Outcomes of QoS 1 publishes by token (paho's message id, 1..65535). */
#define GF_MCONN_TOKENS 65536
/* Connections whose publishes can still be told apart when their late completions come. */
#define GF_MCONN_EPOCHS 16
enum { ACK_NONE, ACK_OK, ACK_REFUSED };

struct gf_mconn;

/* The context of a publish's completion callbacks: its session and the connection (epoch)
 * it was sent on. */
struct pub_ctx {
    struct gf_mconn *c;
    unsigned epoch; /* under the session's wmu */
};

struct gf_mconn {
    MQTTAsync client;
    struct gf_mconn_opts o;
    char *url, *client_id, *username, *password, *ca_file, *label;
    char *subs[GF_MCONN_SUBS];
    atomic_int connected;
    atomic_uint connects; /* successful connects so far */
    atomic_int stopped;   /* gf_mconn_disconnect: no resubscribing on a late connect */
    /* The reconnect thread (not for no_reconnect sessions): waits for `down`, pauses
     * retry_s, connects; quit ends it. */
    pthread_t rthread;
    int rthread_started;
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    int down, quit, retry_s;
    /* Publishes sent and completed (PUBACK or refusal): gf_mconn_window keeps the number in
     * flight under the broker's Receive Maximum, past which paho parks the rest until its
     * send thread wakes up by itself, up to a second later. A new connection (epoch) writes
     * off what was in flight on the last one. Some of those still complete later (what
     * paho had not written to the socket when the connection broke goes out on the next
     * one and is acknowledged there): counted in `late`, not in `done`, which would pass
     * `sent` and make the window look full for good (tests/integration/test_mconn.py). */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    unsigned long sent, done, late;
    unsigned epoch;
    struct pub_ctx pctx[GF_MCONN_EPOCHS];
    /* While someone waits (waiters > 0), completions wake them only once no more than
     * wake_at publishes are in flight: a full window is refilled in one go, not one
     * context switch per acknowledgement. */
    unsigned waiters;
    unsigned long wake_at;
    atomic_uint receive_max; /* the broker's, from its last CONNACK (20 until one came) */
    /* The connect (its number in connects) whose CONNACK said Session Present; 0: none.
     * Set before on_connected counts that connect, so a reader that sees the new count sees
     * its CONNACK's answer. */
    atomic_uint present_at;
    /* The last outcome of each token, written by paho's completion callbacks before they
     * count the publish done: once nothing is in flight (gf_mconn_flush), it is the outcome
     * of every publish sent before, whatever their number. */
    atomic_uchar acks[GF_MCONN_TOKENS];
};

static void publish_done(struct pub_ctx *p, int token, unsigned char outcome)
{
    struct gf_mconn *c = p->c;

    pthread_mutex_lock(&c->wmu);
    if (p->epoch != c->epoch) { /* written off when the connection was lost */
        c->late++;
    } else {
        if (token > 0) {
            atomic_store(&c->acks[(unsigned)token % GF_MCONN_TOKENS], outcome);
        }
        c->done++;
        if (c->waiters > 0 && c->sent - c->done <= c->wake_at) {
            pthread_cond_broadcast(&c->wcv);
        }
    }
    pthread_mutex_unlock(&c->wmu);
}

/* Wait (wmu held) until at most below publishes are in flight; GF_ERR_TIMEOUT at until or
 * once the session is down (what is in flight then is written off at the next connect). */
static enum gf_err wait_inflight(struct gf_mconn *c, unsigned long below,
                                 const struct timespec *until)
{
    enum gf_err err = GF_OK;

    c->waiters++;
    c->wake_at = below > c->wake_at ? below : c->wake_at;
    while (err == GF_OK && c->sent - c->done > below) {
        if (!atomic_load(&c->connected) || pthread_cond_timedwait(&c->wcv, &c->wmu, until) != 0) {
            err = GF_ERR_TIMEOUT;
        }
    }
    if (--c->waiters == 0) {
        c->wake_at = 0;
    }
    return err;
}

static void on_publish_ok(void *ctx, MQTTAsync_successData5 *r)
{
    publish_done(ctx, r ? r->token : 0, ACK_OK);
}

static void on_publish_refused(void *ctx, MQTTAsync_failureData5 *r)
{
    struct gf_mconn *c = ((struct pub_ctx *)ctx)->c;

    publish_done(ctx, r ? r->token : 0, ACK_REFUSED);
    gf_log_warn("publish refused by the broker", "conn=%s reason=%d", c->label,
                r ? (int)r->reasonCode : -1);
}

/* CLOCK_REALTIME (the condition variables' clock) timeout_ms from now. */
static struct timespec deadline_in(long timeout_ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

static char *dup_or_null(const char *s)
{
    return s ? gf_strdup(s) : NULL;
}

static void on_subscribed(void *ctx, MQTTAsync_successData5 *resp)
{
    struct gf_mconn *c = ctx;

    if (resp == NULL) {
        return;
    }
    /* paho fills alt.sub only for more than one filter; one filter answers in reasonCode. */
    if (c->o.nsubs > 1) {
        for (int i = 0; i < resp->alt.sub.reasonCodeCount; i++) {
            if (resp->alt.sub.reasonCodes[i] >= 0x80) {
                gf_log_error("subscription refused", "conn=%s filter=%s reason=%d", c->label,
                             i < (int)c->o.nsubs ? c->subs[i] : "?", resp->alt.sub.reasonCodes[i]);
            }
        }
    } else if (resp->reasonCode >= 0x80) {
        gf_log_error("subscription refused", "conn=%s filter=%s reason=%d", c->label, c->subs[0],
                     resp->reasonCode);
    }
    gf_log_debug("subscribed", "conn=%s filters=%zu", c->label, c->o.nsubs);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData5 *resp)
{
    struct gf_mconn *c = ctx;

    gf_log_error("subscribe failed", "conn=%s code=%d", c->label, resp ? resp->code : 0);
}

static void on_connected(void *ctx, char *cause)
{
    struct gf_mconn *c = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int qos[GF_MCONN_SUBS] = {1, 1, 1, 1, 1, 1, 1, 1};

    (void)cause;
    pthread_mutex_lock(&c->wmu);
    c->done = c->sent; /* what was in flight on the last connection is written off */
    c->epoch++;
    c->pctx[c->epoch % GF_MCONN_EPOCHS].epoch = c->epoch;
    pthread_cond_broadcast(&c->wcv);
    pthread_mutex_unlock(&c->wmu);
    atomic_store(&c->connected, 1);
    atomic_fetch_add(&c->connects, 1);
    gf_log_info("connected", "conn=%s url=%s", c->label, c->url);
    if (c->o.nsubs == 0 || atomic_load(&c->stopped)) {
        return;
    }
    ro.onSuccess5 = on_subscribed;
    ro.onFailure5 = on_subscribe_failed;
    ro.context = c;
    int rc = MQTTAsync_subscribeMany(c->client, (int)c->o.nsubs, c->subs, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        gf_log_error("subscribe failed", "conn=%s rc=%d", c->label, rc);
    }
}

/* Have the reconnect thread connect again after its pause (a no_reconnect session has
 * none: it stays down). */
static void want_reconnect(struct gf_mconn *c)
{
    pthread_mutex_lock(&c->rmu);
    c->down = 1;
    pthread_cond_signal(&c->rcv);
    pthread_mutex_unlock(&c->rmu);
}

/* Not connected any more: a gf_mconn_flush waiting gives up at once; connect again. */
static void mark_down(struct gf_mconn *c)
{
    atomic_store(&c->connected, 0);
    pthread_mutex_lock(&c->wmu);
    pthread_cond_broadcast(&c->wcv);
    pthread_mutex_unlock(&c->wmu);
    want_reconnect(c);
}

static void on_lost(void *ctx, char *cause)
{
    struct gf_mconn *c = ctx;

    mark_down(c);
    gf_log_warn("connection lost", "conn=%s cause=%s", c->label, cause ? cause : "-");
}

/* The broker ended the connection with a DISCONNECT (MQTT 5): paho calls this, not on_lost;
 * we reconnect as for a lost connection. Reasons seen: 0x8E session taken over (another
 * connection with our client id), 0x98 administrative action (dynamic security changed our
 * account). */
static void on_disconnected(void *ctx, MQTTProperties *props, enum MQTTReasonCodes reason)
{
    struct gf_mconn *c = ctx;

    (void)props;
    mark_down(c);
    gf_log_warn("disconnected by the broker", "conn=%s reason=%d (%s)", c->label, (int)reason,
                MQTTReasonCode_toString(reason));
}

/* CONNACK: the broker's Receive Maximum (absent: 65535, MQTT 5 section 3.2.2.3.3). */
static void on_connect_ok(void *ctx, MQTTAsync_successData5 *resp)
{
    struct gf_mconn *c = ctx;
    unsigned max = 65535;

    if (resp != NULL &&
        MQTTProperties_hasProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
        int v = MQTTProperties_getNumericValue(&resp->properties,
                                               MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
        max = v > 0 ? (unsigned)v : 1;
    }
    atomic_store(&c->receive_max, max);
    pthread_mutex_lock(&c->rmu);
    c->retry_s = GF_MCONN_RETRY_MIN_S;
    pthread_mutex_unlock(&c->rmu);
    /* on_connected (which counts the connect) comes after this callback. */
    int present = resp != NULL && resp->alt.connect.sessionPresent;
    atomic_store(&c->present_at, present ? atomic_load(&c->connects) + 1 : 0);
    gf_log_debug("connack", "conn=%s receive_max=%u session_present=%d", c->label, max, present);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData5 *resp)
{
    struct gf_mconn *c = ctx;

    gf_log_warn("connect failed", "conn=%s url=%s reason=%d msg=%s", c->label, c->url,
                resp ? resp->reasonCode : 0, resp && resp->message ? resp->message : "-");
    want_reconnect(c);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct gf_mconn *c = ctx;
    int handled = 1;

    (void)topic_len;
    if (c->o.on_msg != NULL) {
        handled = c->o.on_msg(c->o.ud, c, topic, m->payload, (size_t)m->payloadlen);
    }
    if (handled) {
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
    }
    return handled;
}

/* One connect attempt (MQTTAsync_connect only queues it; on_connect_ok or
 * on_connect_failed tells how it went). paho's return code. */
static int connect_now(struct gf_mconn *c)
{
    MQTTAsync_connectOptions cn = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty expiry, recv_max;
    int rc;

    cn.keepAliveInterval = c->o.keepalive > 0 ? c->o.keepalive : 30;
    cn.cleanstart = c->o.clean_start;
    cn.username = c->username;
    cn.password = c->password;
    cn.automaticReconnect = 0; /* reconnector() does it */
    /* One attempt only: it must have given up before its owner does (takeover.c). */
    cn.connectTimeout = c->o.no_reconnect ? 5 : 30;
    cn.onSuccess5 = on_connect_ok;
    cn.onFailure5 = on_connect_failed;
    cn.context = c;
    memset(&expiry, 0, sizeof(expiry));
    expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
    expiry.value.integer4 = (unsigned)(c->o.session_expiry > 0 ? c->o.session_expiry : 0);
    MQTTProperties_add(&props, &expiry);
    /* Receive Maximum: how many unacknowledged QoS 1 messages the broker may push at once.
     * paho holds those in memory while the ingest queue is full; 128 keeps that bounded. */
    memset(&recv_max, 0, sizeof(recv_max));
    recv_max.identifier = MQTTPROPERTY_CODE_RECEIVE_MAXIMUM;
    recv_max.value.integer2 = 128;
    MQTTProperties_add(&props, &recv_max);
    cn.connectProperties = &props;
    if (gf_mqtt_url_tls(c->url)) {
        ssl.trustStore = c->ca_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        cn.ssl = &ssl;
    }
    rc = MQTTAsync_connect(c->client, &cn);
    MQTTProperties_free(&props);
    return rc;
}

/* The reconnect thread: once the session is down, pause retry_s (doubling after each
 * attempt, back to the minimum on a CONNACK), then connect again; until quit or a
 * disconnect by the owner (stopped). */
static void *reconnector(void *arg)
{
    struct gf_mconn *c = arg;

    pthread_mutex_lock(&c->rmu);
    while (!c->quit) {
        if (!c->down) {
            pthread_cond_wait(&c->rcv, &c->rmu);
            continue;
        }
        struct timespec until = deadline_in(c->retry_s * 1000L);
        while (!c->quit && pthread_cond_timedwait(&c->rcv, &c->rmu, &until) == 0) {
        }
        if (c->quit) {
            break;
        }
        c->down = 0;
        c->retry_s = c->retry_s * 2 > GF_MCONN_RETRY_MAX_S ? GF_MCONN_RETRY_MAX_S : c->retry_s * 2;
        pthread_mutex_unlock(&c->rmu);
        int rc = atomic_load(&c->stopped) ? MQTTASYNC_SUCCESS : connect_now(c);
        pthread_mutex_lock(&c->rmu);
        if (rc != MQTTASYNC_SUCCESS) {
            gf_log_warn("connect failed", "conn=%s url=%s rc=%d", c->label, c->url, rc);
            c->down = 1;
        }
    }
    pthread_mutex_unlock(&c->rmu);
    return NULL;
}

enum gf_err gf_mconn_start(const struct gf_mconn_opts *opts, struct gf_mconn **out)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    struct gf_mconn *c;
    char url[300];
    int rc;

    *out = NULL;
    if (gf_mqtt_paho_uri(opts->url, url, sizeof(url)) != GF_OK) {
        return GF_ERR_CONFIG;
    }
    if ((c = gf_calloc(1, sizeof(*c))) == NULL) {
        return GF_ERR_NOMEM;
    }
    c->o = *opts;
    pthread_mutex_init(&c->wmu, NULL);
    for (unsigned i = 0; i < GF_MCONN_EPOCHS; i++) {
        c->pctx[i].c = c; /* epoch 0: before the first connect, when nothing is sent */
    }
    atomic_store(&c->receive_max, 20); /* mosquitto's default, until the CONNACK says */
    pthread_cond_init(&c->wcv, NULL);
    pthread_mutex_init(&c->rmu, NULL);
    pthread_cond_init(&c->rcv, NULL);
    c->retry_s = GF_MCONN_RETRY_MIN_S;
    c->url = dup_or_null(opts->url);
    c->client_id = dup_or_null(opts->client_id);
    c->username = dup_or_null(opts->username);
    c->password = dup_or_null(opts->password);
    c->ca_file = dup_or_null(opts->ca_file);
    c->label = dup_or_null(opts->label ? opts->label : "mqtt");
    for (size_t i = 0; i < opts->nsubs && i < GF_MCONN_SUBS; i++) {
        c->subs[i] = dup_or_null(opts->subs[i]);
    }
    if (c->url == NULL || c->client_id == NULL || c->label == NULL) {
        gf_mconn_stop(c);
        return GF_ERR_NOMEM;
    }
    co.sendWhileDisconnected = 0;
    /* paho counts queued publish commands against this even while connected: acks of a
     * large batch must not be refused by the client library itself. */
    co.maxBufferedMessages = 1000000;
    if (MQTTAsync_createWithOptions(&c->client, url, c->client_id, MQTTCLIENT_PERSISTENCE_NONE,
                                    NULL, &co) != MQTTASYNC_SUCCESS) {
        gf_mconn_stop(c);
        return GF_ERR_CONFIG;
    }
    MQTTAsync_setCallbacks(c->client, c, on_lost, on_message, NULL);
    MQTTAsync_setConnected(c->client, c, on_connected);
    MQTTAsync_setDisconnected(c->client, c, on_disconnected);
    if (!opts->no_reconnect) {
        if (pthread_create(&c->rthread, NULL, reconnector, c) != 0) {
            gf_mconn_stop(c);
            return GF_ERR_NOMEM;
        }
        c->rthread_started = 1;
    }
    rc = connect_now(c);
    if (rc != MQTTASYNC_SUCCESS) {
        gf_log_error("connect failed", "conn=%s rc=%d", c->label, rc);
        gf_mconn_stop(c);
        return GF_ERR_IO;
    }
    *out = c;
    return GF_OK;
}

unsigned gf_mconn_connects(const struct gf_mconn *c)
{
    return atomic_load(&((struct gf_mconn *)c)->connects);
}

int gf_mconn_session_present(const struct gf_mconn *c)
{
    struct gf_mconn *m = (struct gf_mconn *)c;
    unsigned at = atomic_load(&m->present_at);

    return at != 0 && at == atomic_load(&m->connects);
}

int gf_mconn_connected(const struct gf_mconn *c)
{
    return atomic_load(&((struct gf_mconn *)c)->connected);
}

enum gf_err gf_mconn_publish(struct gf_mconn *c, const char *topic, const void *payload, size_t len,
                             int qos, int retain)
{
    return gf_mconn_publish_token(c, topic, payload, len, qos, retain, NULL);
}

unsigned gf_mconn_receive_max(const struct gf_mconn *c)
{
    return atomic_load(&((struct gf_mconn *)c)->receive_max);
}

enum gf_err gf_mconn_window(struct gf_mconn *c, unsigned long max_inflight, long timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    enum gf_err err = GF_OK;

    pthread_mutex_lock(&c->wmu);
    if (c->sent - c->done >= max_inflight) { /* full: on again once half of it is answered */
        err = wait_inflight(c, max_inflight / 2, &until);
    }
    pthread_mutex_unlock(&c->wmu);
    return err;
}

enum gf_err gf_mconn_flush(struct gf_mconn *c, long timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    enum gf_err err;

    pthread_mutex_lock(&c->wmu);
    err = wait_inflight(c, 0, &until);
    pthread_mutex_unlock(&c->wmu);
    return err;
}

unsigned long gf_mconn_late(struct gf_mconn *c)
{
    pthread_mutex_lock(&c->wmu);
    unsigned long late = c->late;
    pthread_mutex_unlock(&c->wmu);
    return late;
}

enum gf_err gf_mconn_outcome(struct gf_mconn *c, int token)
{
    unsigned char v = token > 0 ? atomic_load(&c->acks[(unsigned)token % GF_MCONN_TOKENS]) : 0;

    return v == ACK_OK ? GF_OK : GF_ERR_PERM;
}

static enum gf_err send_message(struct gf_mconn *c, const char *topic, const void *payload,
                                size_t len, int qos, int retain, MQTTProperties *props,
                                int *token);

enum gf_err gf_mconn_publish_token(struct gf_mconn *c, const char *topic, const void *payload,
                                   size_t len, int qos, int retain, int *token)
{
    return send_message(c, topic, payload, len, qos, retain, NULL, token);
}

enum gf_err gf_mconn_publish_req(struct gf_mconn *c, const char *topic, const void *payload,
                                 size_t len, const struct gf_mconn_req *req, int *token)
{
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty p;
    enum gf_err err = GF_ERR_NOMEM;

    memset(&p, 0, sizeof(p));
    p.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
    p.value.integer4 = (unsigned)req->expiry_s;
    if (req->expiry_s > 0 && MQTTProperties_add(&props, &p) != 0) {
        goto out;
    }
    memset(&p, 0, sizeof(p));
    p.identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC;
    p.value.data.data = (char *)req->response_topic;
    p.value.data.len = req->response_topic ? (int)strlen(req->response_topic) : 0;
    if (req->response_topic != NULL && MQTTProperties_add(&props, &p) != 0) {
        goto out;
    }
    memset(&p, 0, sizeof(p));
    p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
    p.value.data.data = (char *)req->corr;
    p.value.data.len = (int)req->corr_len;
    if (req->corr != NULL && MQTTProperties_add(&props, &p) != 0) {
        goto out;
    }
    err = send_message(c, topic, payload, len, 1, 0, &props, token);
out:
    MQTTProperties_free(&props);
    return err;
}

static enum gf_err send_message(struct gf_mconn *c, const char *topic, const void *payload,
                                size_t len, int qos, int retain, MQTTProperties *props,
                                int *token)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

    if (!atomic_load(&c->connected)) {
        return GF_ERR_UNAVAILABLE;
    }
    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = qos;
    m.retained = retain;
    if (props != NULL) {
        m.properties = *props; /* paho copies the properties when it queues the message */
    }
    ro.onSuccess5 = on_publish_ok;
    ro.onFailure5 = on_publish_refused;
    /* Counted before sending (never call paho holding wmu: its callbacks take wmu while
     * paho holds its own lock), in the connection's epoch; taken back if the send failed. */
    pthread_mutex_lock(&c->wmu);
    c->sent++;
    struct pub_ctx *p = &c->pctx[c->epoch % GF_MCONN_EPOCHS];
    pthread_mutex_unlock(&c->wmu);
    ro.context = p;
    int rc = MQTTAsync_sendMessage(c->client, topic, &m, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        publish_done(p, 0, ACK_NONE);
    }
    if (rc == MQTTASYNC_DISCONNECTED) {
        return GF_ERR_UNAVAILABLE;
    }
    if (rc != MQTTASYNC_SUCCESS) {
        gf_log_warn("publish failed", "conn=%s topic=%s rc=%d", c->label, topic, rc);
        return GF_ERR_IO;
    }
    if (token != NULL) {
        *token = ro.token;
    }
    return GF_OK;
}

enum gf_err gf_mconn_unsubscribe(struct gf_mconn *c, const char *const *filters, size_t n)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    char *f[GF_MCONN_SUBS];

    if (n == 0 || n > GF_MCONN_SUBS) {
        return n == 0 ? GF_OK : GF_ERR_INVAL;
    }
    if (!atomic_load(&c->connected)) {
        return GF_ERR_UNAVAILABLE;
    }
    for (size_t i = 0; i < n; i++) {
        f[i] = (char *)filters[i]; /* paho copies them; its prototype is not const */
    }
    return MQTTAsync_unsubscribeMany(c->client, (int)n, f, &ro) == MQTTASYNC_SUCCESS
               ? GF_OK
               : GF_ERR_UNAVAILABLE;
}

/* Disconnect; with end_session, the DISCONNECT sets the session expiry to 0 (MQTT 5
 * 3.14.2.2.2: allowed when the CONNECT's was not 0), so the broker discards the session. */
static void disconnect(struct gf_mconn *c, int end_session)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty expiry;
    int rc;

    if (c == NULL || c->client == NULL) {
        return;
    }
    atomic_store(&c->connected, 0);
    atomic_store(&c->stopped, 1); /* no resubscribing (o.nsubs is read by paho's thread) */
    if (c->rthread_started) { /* no connecting again either */
        pthread_mutex_lock(&c->rmu);
        c->quit = 1;
        pthread_cond_signal(&c->rcv);
        pthread_mutex_unlock(&c->rmu);
        pthread_join(c->rthread, NULL);
        c->rthread_started = 0;
    }
    d.timeout = 2000;
    if (end_session) {
        memset(&expiry, 0, sizeof(expiry));
        expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
        expiry.value.integer4 = 0;
        MQTTProperties_add(&props, &expiry);
        d.properties = props;
    }
    rc = MQTTAsync_disconnect(c->client, &d);
    MQTTProperties_free(&props);
    if (rc == MQTTASYNC_SUCCESS) {
        for (int i = 0; i < 40 && MQTTAsync_isConnected(c->client); i++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

void gf_mconn_disconnect(struct gf_mconn *c)
{
    disconnect(c, 0);
}

void gf_mconn_end_session(struct gf_mconn *c)
{
    disconnect(c, 1);
}

void gf_mconn_stop(struct gf_mconn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->client != NULL) {
        gf_mconn_disconnect(c);
        MQTTAsync_destroy(&c->client);
    }
    gf_free(c->url);
    gf_free(c->client_id);
    gf_free(c->username);
    gf_free(c->password);
    gf_free(c->ca_file);
    gf_free(c->label);
    for (size_t i = 0; i < GF_MCONN_SUBS; i++) {
        gf_free(c->subs[i]);
    }
    pthread_cond_destroy(&c->wcv);
    pthread_mutex_destroy(&c->wmu);
    pthread_cond_destroy(&c->rcv);
    pthread_mutex_destroy(&c->rmu);
    gf_free(c);
}
