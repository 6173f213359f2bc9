/* SPDX-License-Identifier: Apache-2.0
 *
 * session.c - the agent's MQTT session (see session.h). The mailbox is a small ring of
 * events under a mutex; when it is full the oldest ack is overwritten (a later ack covers
 * it), connection events are never lost because they are few.
 */
#define GF_LOG_MODULE "mqtt"

#include "session.h"

#include "alloc.h"
#include "file.h"
#include "log.h"
#include "mqtturl.h"
#include "timefmt.h"

#include <MQTTAsync.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAILBOX 64

struct gf_session {
    MQTTAsync client;
    char url[300], client_id[64], username[64], password[64], root[96], ca_file[512];
    char state_dir[512], boot_id[64];
    int keepalive;
    uint64_t session;
    char will[256];
    char will_topic[128];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gf_session_event box[MAILBOX];
    size_t head, count;
    int woken; /* gf_session_wake since the last gf_session_wait returned */
    atomic_int connected;
    atomic_long rtt_ms;
    atomic_llong sent_us;
    gf_session_desired_fn on_desired;
    void *desired_ud;
    gf_session_cmd_fn on_command;
    void *command_ud;
    long session_expiry;
    pthread_mutex_t rmu;   /* res_topic */
    char res_topic[160];   /* where results go: the requests' response topic */
    atomic_int chunks_inflight; /* log chunks not yet acknowledged */
};

static void post(struct gf_session *s, const struct gf_session_event *ev)
{
    pthread_mutex_lock(&s->mu);
    if (s->count == MAILBOX) {
        /* Full: drop the oldest ack (a newer ack covers it); connection events stay. */
        size_t drop = 0;
        while (drop < s->count && s->box[(s->head + drop) % MAILBOX].kind != GF_SEV_ACK) {
            drop++;
        }
        if (drop == s->count) {
            drop = 0;
        }
        for (size_t i = drop; i > 0; i--) {
            s->box[(s->head + i) % MAILBOX] = s->box[(s->head + i - 1) % MAILBOX];
        }
        s->head = (s->head + 1) % MAILBOX;
        s->count--;
    }
    s->box[(s->head + s->count) % MAILBOX] = *ev;
    s->count++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void post_kind(struct gf_session *s, enum gf_session_event_kind k)
{
    struct gf_session_event ev = {0};

    ev.kind = k;
    post(s, &ev);
}

static void on_lost(void *ctx, char *cause)
{
    struct gf_session *s = ctx;

    atomic_store(&s->connected, 0);
    gf_log_warn("connection lost", "cause=%s", cause ? cause : "-");
    post_kind(s, GF_SEV_LOST);
}

/* MQTT 5: the broker ended the connection with a DISCONNECT (e.g. an administrator removed
 * the account); paho reports that here, not as a lost connection. */
static void on_disconnected(void *ctx, MQTTProperties *props, enum MQTTReasonCodes rc)
{
    struct gf_session *s = ctx;

    (void)props;
    atomic_store(&s->connected, 0);
    gf_log_warn("disconnected by the broker", "reason=%d", (int)rc);
    post_kind(s, GF_SEV_LOST);
}

/* A `cmd/req`: note its response topic when it lies under our root (the broker would
 * refuse any other), and hand it over with what is left of its expiry. */
static void command(struct gf_session *s, MQTTAsync_message *m)
{
    long expiry_ms = -1;
    size_t rl = strlen(s->root);

    if (MQTTProperties_hasProperty(&m->properties, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL)) {
        expiry_ms = 1000L * MQTTProperties_getNumericValue(
                                &m->properties, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
    }
    MQTTProperty *rt = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
    if (rt != NULL && rt->value.data.len > (int)rl &&
        rt->value.data.len < (int)sizeof(s->res_topic) &&
        strncmp(rt->value.data.data, s->root, rl) == 0 &&
        memchr(rt->value.data.data, '+', (size_t)rt->value.data.len) == NULL &&
        memchr(rt->value.data.data, '#', (size_t)rt->value.data.len) == NULL) {
        pthread_mutex_lock(&s->rmu);
        memcpy(s->res_topic, rt->value.data.data, (size_t)rt->value.data.len);
        s->res_topic[rt->value.data.len] = '\0';
        pthread_mutex_unlock(&s->rmu);
    }
    if (s->on_command != NULL) {
        s->on_command(s->command_ud, m->payload, (size_t)m->payloadlen, expiry_ms);
    }
}

static int on_message(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
    struct gf_session *s = ctx;
    struct gf_session_event ev = {0};
    json_error_t jerr;
    size_t rl = strlen(s->root);

    (void)tlen;
    if (strncmp(topic, s->root, rl) == 0 && strcmp(topic + rl, "cmd/req") == 0) {
        command(s, m);
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
        return 1;
    }
    if (strncmp(topic, s->root, rl) == 0 && strcmp(topic + rl, "desired") == 0) {
        if (s->on_desired != NULL) {
            s->on_desired(s->desired_ud, m->payload, (size_t)m->payloadlen);
        }
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
        return 1;
    }
    json_t *a = json_loadb(m->payload, (size_t)m->payloadlen, 0, &jerr);
    const char *boot = json_string_value(json_object_get(a, "boot_id"));
    const char *state = json_string_value(json_object_get(a, "state"));
    const char *cmd = json_string_value(json_object_get(a, "cmd_id"));
    json_t *seq = json_object_get(a, "seq"), *gen = json_object_get(a, "status_gen");

    if (boot != NULL && json_is_integer(seq) && json_integer_value(seq) > 0) {
        ev.kind = GF_SEV_ACK;
        snprintf(ev.boot_id, sizeof(ev.boot_id), "%s", boot);
        ev.seq = (uint64_t)json_integer_value(seq);
        post(s, &ev);
    } else if (state != NULL && strlen(state) < sizeof(ev.state) && json_is_integer(gen) &&
               json_integer_value(gen) > 0) {
        ev.kind = GF_SEV_STATUS_ACK;
        snprintf(ev.state, sizeof(ev.state), "%s", state);
        ev.seq = (uint64_t)json_integer_value(gen);
        post(s, &ev);
    } else if (cmd != NULL && cmd[0] != '\0' && strlen(cmd) < sizeof(ev.id)) {
        ev.kind = GF_SEV_CMD_ACK;
        snprintf(ev.id, sizeof(ev.id), "%s", cmd);
        post(s, &ev);
    } else {
        gf_log_warn("malformed ack ignored", "topic=%s", topic);
    }
    json_decref(a);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_published(void *ctx, MQTTAsync_successData5 *r)
{
    struct gf_session *s = ctx;

    (void)r;
    atomic_store(&s->rtt_ms, (long)((gf_time_mono_us() - atomic_load(&s->sent_us)) / 1000));
}

/* A refused publish (PUBACK with 0x87 not authorized, e.g. the node was rejected and its
 * role removed while connected) means the same as refused credentials. */
static void on_publish_failed(void *ctx, MQTTAsync_failureData5 *r)
{
    struct gf_session *s = ctx;
    int rc = r ? (int)r->reasonCode : 0;

    gf_log_warn("publish refused", "reason=%d", rc);
    if (rc == 0x87 || rc == 0x86 || rc == 0x8C) {
        post_kind(s, GF_SEV_AUTH);
    }
}

/* A QoS 1 publish whose outcome goes to ok / failed (context s); paho's return code. */
static int send_qos1(struct gf_session *s, const char *topic, const char *payload, size_t len,
                     int retain, MQTTAsync_onSuccess5 *ok, MQTTAsync_onFailure5 *failed)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = 1;
    m.retained = retain;
    ro.onSuccess5 = ok;
    ro.onFailure5 = failed;
    ro.context = s;
    return MQTTAsync_sendMessage(s->client, topic, &m, &ro);
}

static enum gf_err publish(struct gf_session *s, const char *topic, const char *payload,
                           size_t len, int retain, int track)
{
    if (track) {
        atomic_store(&s->sent_us, gf_time_mono_us());
    }
    int rc = send_qos1(s, topic, payload, len, retain, track ? on_published : NULL,
                       on_publish_failed);
    if (rc != MQTTASYNC_SUCCESS) {
        gf_log_debug("publish not sent", "topic=%s rc=%d", topic, rc);
        return GF_ERR_UNAVAILABLE;
    }
    return GF_OK;
}

static void on_connected(void *ctx, MQTTAsync_successData5 *r)
{
    struct gf_session *s = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    char topic[160], state[256];

    (void)r;
    atomic_store(&s->chunks_inflight, 0);
    atomic_store(&s->connected, 1);
    snprintf(topic, sizeof(topic), "%sack", s->root);
    MQTTAsync_subscribe(s->client, topic, 1, &ro);
    if (s->on_desired != NULL) {
        MQTTAsync_responseOptions dro = MQTTAsync_responseOptions_initializer;
        snprintf(topic, sizeof(topic), "%sdesired", s->root);
        MQTTAsync_subscribe(s->client, topic, 1, &dro);
    }
    if (s->on_command != NULL) {
        MQTTAsync_responseOptions cro = MQTTAsync_responseOptions_initializer;
        snprintf(topic, sizeof(topic), "%scmd/req", s->root);
        MQTTAsync_subscribe(s->client, topic, 1, &cro);
    }
    int n = snprintf(state, sizeof(state),
                     "{\"state\":\"online\",\"boot_id\":\"%s\",\"session\":%llu}", s->boot_id,
                     (unsigned long long)s->session);
    publish(s, s->will_topic, state, (size_t)n, 1, 0);
    gf_log_info("connected", "url=%s session=%llu", s->url, (unsigned long long)s->session);
    post_kind(s, GF_SEV_CONNECTED);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData5 *r)
{
    struct gf_session *s = ctx;
    int rc = r ? (int)r->reasonCode : 0;

    atomic_store(&s->connected, 0);
    gf_log_warn("connect failed", "url=%s reason=%d msg=%s", s->url, rc,
                r && r->message ? r->message : "-");
    /* The broker answered CONNACK with a refusal (0x86 bad user name or password, 0x87 not
     * authorized, ...; paho 1.3 does not always pass the reason code on): ask the server
     * whether our credentials changed. A network failure is just a lost connection. */
    int refused = rc >= 0x80 || (r != NULL && r->message != NULL &&
                                 strstr(r->message, "CONNACK") != NULL);
    post_kind(s, refused ? GF_SEV_AUTH : GF_SEV_LOST);
}

enum gf_err gf_session_new(const struct gf_session_opts *o, struct gf_session **out)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    struct gf_session *s = gf_calloc(1, sizeof(*s));
    char url[320];

    *out = NULL;
    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    snprintf(s->url, sizeof(s->url), "%s", o->url);
    snprintf(s->client_id, sizeof(s->client_id), "%s", o->client_id);
    snprintf(s->username, sizeof(s->username), "%s", o->username);
    snprintf(s->password, sizeof(s->password), "%s", o->password);
    snprintf(s->root, sizeof(s->root), "%s", o->topic_root);
    snprintf(s->ca_file, sizeof(s->ca_file), "%s", o->ca_file ? o->ca_file : "");
    snprintf(s->state_dir, sizeof(s->state_dir), "%s", o->state_dir);
    snprintf(s->boot_id, sizeof(s->boot_id), "%s", o->boot_id);
    snprintf(s->will_topic, sizeof(s->will_topic), "%sstate", s->root);
    s->keepalive = o->keepalive;
    s->on_desired = o->on_desired;
    s->desired_ud = o->desired_ud;
    s->on_command = o->on_command;
    s->command_ud = o->command_ud;
    s->session_expiry = o->session_expiry;
    snprintf(s->res_topic, sizeof(s->res_topic), "%scmd/res", s->root);
    pthread_mutex_init(&s->rmu, NULL);
    atomic_store(&s->rtt_ms, -1);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (gf_mqtt_paho_uri(o->url, url, sizeof(url)) != GF_OK) {
        gf_session_free(s);
        return GF_ERR_CONFIG;
    }
    if (MQTTAsync_createWithOptions(&s->client, url, s->client_id, MQTTCLIENT_PERSISTENCE_NONE,
                                    NULL, &co) != MQTTASYNC_SUCCESS) {
        gf_session_free(s);
        return GF_ERR_CONFIG;
    }
    MQTTAsync_setCallbacks(s->client, s, on_lost, on_message, NULL);
    MQTTAsync_setDisconnected(s->client, s, on_disconnected);
    *out = s;
    return GF_OK;
}

void gf_session_free(struct gf_session *s)
{
    if (s == NULL) {
        return;
    }
    if (s->client != NULL) {
        MQTTAsync_destroy(&s->client);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rmu);
    memset(s->password, 0, sizeof(s->password));
    gf_free(s);
}

/* The next session number, persisted before it is used. */
static enum gf_err next_session(struct gf_session *s)
{
    char path[600], text[32];
    struct gf_buf b;
    unsigned long long cur = 0;

    snprintf(path, sizeof(path), "%s/session", s->state_dir);
    gf_buf_init(&b, 64);
    if (gf_file_read(path, &b) == GF_OK && b.data != NULL) {
        cur = strtoull(b.data, NULL, 10);
    }
    gf_buf_free(&b);
    s->session = cur + 1;
    int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)s->session);
    return gf_file_write_atomic(path, text, (size_t)n, 0600);
}

enum gf_err gf_session_connect(struct gf_session *s)
{
    MQTTAsync_connectOptions cn = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    enum gf_err err = next_session(s);

    if (err != GF_OK) {
        gf_log_error("cannot persist the session number", "dir=%s", s->state_dir);
        return err;
    }
    int n = snprintf(s->will, sizeof(s->will),
                     "{\"state\":\"offline\",\"boot_id\":\"%s\",\"session\":%llu,"
                     "\"reason\":\"will\"}",
                     s->boot_id, (unsigned long long)s->session);
    will.topicName = s->will_topic;
    will.payload.data = s->will;
    will.payload.len = n;
    will.qos = 1;
    will.retained = 1;
    cn.will = &will;
    cn.keepAliveInterval = s->keepalive;
    /* A persistent session keeps the commands sent while we are away (each until its
     * expiry); the server's state and desired messages do not depend on it. */
    cn.cleanstart = s->session_expiry <= 0;
    MQTTProperties cprops = MQTTProperties_initializer;
    MQTTProperty se;
    memset(&se, 0, sizeof(se));
    se.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
    se.value.integer4 = (unsigned)(s->session_expiry > 0 ? s->session_expiry : 0);
    if (s->session_expiry > 0 && MQTTProperties_add(&cprops, &se) == 0) {
        cn.connectProperties = &cprops;
    }
    cn.username = s->username;
    cn.password = s->password;
    cn.automaticReconnect = 0;
    cn.connectTimeout = 15;
    cn.onSuccess5 = on_connected;
    cn.onFailure5 = on_connect_failed;
    cn.context = s;
    if (gf_mqtt_url_tls(s->url)) {
        ssl.trustStore = s->ca_file[0] ? s->ca_file : NULL;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        cn.ssl = &ssl;
    }
    int rc = MQTTAsync_connect(s->client, &cn);
    MQTTProperties_free(&cprops); /* paho copied them */
    if (rc != MQTTASYNC_SUCCESS) {
        gf_log_warn("connect not started", "rc=%d", rc);
        post_kind(s, GF_SEV_LOST);
        return GF_ERR_IO;
    }
    return GF_OK;
}

void gf_session_wait(struct gf_session *s, int timeout_ms, struct gf_session_event *ev)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->count == 0 && !s->woken) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) {
            break;
        }
    }
    s->woken = 0;
    if (s->count > 0) {
        *ev = s->box[s->head];
        s->head = (s->head + 1) % MAILBOX;
        s->count--;
    } else {
        ev->kind = GF_SEV_NONE;
    }
    pthread_mutex_unlock(&s->mu);
}

void gf_session_wake(struct gf_session *s)
{
    pthread_mutex_lock(&s->mu);
    s->woken = 1; /* the waiter returns GF_SEV_NONE at once, also when not waiting yet */
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int gf_session_connected(struct gf_session *s)
{
    return atomic_load(&s->connected);
}

uint64_t gf_session_number(struct gf_session *s)
{
    return s->session;
}

enum gf_err gf_session_publish(struct gf_session *s, const char *suffix, const char *payload,
                               size_t len)
{
    char topic[160];

    if (!atomic_load(&s->connected)) {
        return GF_ERR_UNAVAILABLE;
    }
    snprintf(topic, sizeof(topic), "%s%s", s->root, suffix);
    return publish(s, topic, payload, len, 0, strcmp(suffix, "health") == 0);
}

enum gf_err gf_session_publish_result(struct gf_session *s, const char *id, const char *payload,
                                      size_t len)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTProperty corr;
    char topic[160];

    if (!atomic_load(&s->connected)) {
        return GF_ERR_UNAVAILABLE;
    }
    pthread_mutex_lock(&s->rmu);
    snprintf(topic, sizeof(topic), "%s", s->res_topic);
    pthread_mutex_unlock(&s->rmu);
    memset(&corr, 0, sizeof(corr));
    corr.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
    corr.value.data.data = (char *)id;
    corr.value.data.len = (int)strlen(id);
    if (MQTTProperties_add(&m.properties, &corr) != 0) {
        return GF_ERR_NOMEM;
    }
    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = 1;
    ro.onFailure5 = on_publish_failed;
    ro.context = s;
    int rc = MQTTAsync_sendMessage(s->client, topic, &m, &ro);
    MQTTProperties_free(&m.properties);
    return rc == MQTTASYNC_SUCCESS ? GF_OK : GF_ERR_UNAVAILABLE;
}

/* One chunk less in flight; never below 0 (the count restarts at every connect, and a
 * chunk of the old connection may still complete afterwards). */
static void chunk_done(struct gf_session *s)
{
    int n = atomic_load(&s->chunks_inflight);

    while (n > 0 && !atomic_compare_exchange_weak(&s->chunks_inflight, &n, n - 1)) {
    }
}

static void on_chunk_done(void *ctx, MQTTAsync_successData5 *r)
{
    (void)r;
    chunk_done(ctx);
}

static void on_chunk_failed(void *ctx, MQTTAsync_failureData5 *r)
{
    chunk_done(ctx);
    on_publish_failed(ctx, r);
}

enum gf_err gf_session_publish_chunk(struct gf_session *s, const char *stream, const char *payload,
                                     size_t len, unsigned max_inflight)
{
    char topic[200];

    if (!atomic_load(&s->connected) || atomic_load(&s->chunks_inflight) >= (int)max_inflight) {
        return GF_ERR_UNAVAILABLE;
    }
    snprintf(topic, sizeof(topic), "%slogs/%s", s->root, stream);
    atomic_fetch_add(&s->chunks_inflight, 1);
    int rc = send_qos1(s, topic, payload, len, 0, on_chunk_done, on_chunk_failed);
    if (rc != MQTTASYNC_SUCCESS) {
        chunk_done(s);
        return GF_ERR_UNAVAILABLE;
    }
    return GF_OK;
}

long gf_session_rtt_ms(struct gf_session *s)
{
    return atomic_load(&s->rtt_ms);
}

void gf_session_drop(struct gf_session *s)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;

    if (MQTTAsync_isConnected(s->client)) {
        d.timeout = 1000;
        MQTTAsync_disconnect(s->client, &d);
    }
    atomic_store(&s->connected, 0);
}

void gf_session_close(struct gf_session *s)
{
    char state[256];
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;

    if (atomic_load(&s->connected)) {
        int n = snprintf(state, sizeof(state),
                         "{\"state\":\"offline\",\"boot_id\":\"%s\",\"session\":%llu,"
                         "\"reason\":\"shutdown\"}",
                         s->boot_id, (unsigned long long)s->session);
        publish(s, s->will_topic, state, (size_t)n, 1, 0);
        d.timeout = 3000;
        MQTTAsync_disconnect(s->client, &d);
        for (int i = 0; i < 60 && MQTTAsync_isConnected(s->client); i++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store(&s->connected, 0);
}
