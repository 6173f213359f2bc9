/* SPDX-License-Identifier: Apache-2.0
 *
 * remote.c - commands and log streams wired to the MQTT session (see remote.h).
 *
 * Results that cannot be published (the link is down when a command ends) wait in a small
 * queue and go out at the next connect: the request was acknowledged to the broker when it
 * arrived, so nobody would send it again, and the runner only republishes a result when a
 * duplicate request comes. A final result also stays there until the server acknowledges
 * it (an `ack` with cmd_id, after its COMMIT; the broker's PUBACK is not enough, since the
 * server's MQTT client acknowledges a message when it reads it) and goes again after
 * GF_REMOTE_RESEND_MIN_MS, doubling; the main loop calls gf_remote_tick. Past
 * GF_REMOTE_PENDING_MAX results the oldest is dropped (and logged); the server then ends that
 * command at its deadline.
 *
 * logs.tail is a log stream that is not followed and whose chunks stay here: its id starts
 * with "tail-", the chunk callback collects its lines for the waiting command instead of
 * publishing them, and its end chunk completes the command. So it gets the same allowlist,
 * journal support, UTF-8 repair and line cuts as a stream, with no second reader. The lines
 * kept are bounded (GF_REMOTE_TAIL_BYTES, the newest win) so the result fits one message.
 */
#define GF_LOG_MODULE "remote"

#include "remote.h"

#include "alloc.h"
#include "bundler.h"
#include "cmd/cmd.h"
#include "config.h"
#include "ids.h"
#include "json.h"
#include "log.h"
#include "logs/logs.h"
#include "session.h"
#include "timefmt.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GF_REMOTE_PENDING_MAX 32           /* results kept (unsent or unacknowledged) */
#define GF_REMOTE_RESEND_MIN_MS 10000      /* a final result not acknowledged goes again */
#define GF_REMOTE_RESEND_MAX_MS 300000     /* ... doubling up to this */
#define GF_REMOTE_WAIT_MS 10000            /* a built-in waits this long for the main thread */
#define GF_REMOTE_CHUNKS_INFLIGHT 64       /* log chunks unacknowledged per session */
#define GF_REMOTE_TAILS 4                  /* logs.tail commands at a time */
#define GF_REMOTE_TAIL_BYTES (24u * 1024u) /* line bytes a logs.tail result keeps */
#define GF_REMOTE_TAIL_MS 10000L           /* longest logs.tail */

/* A logs.tail waiting for its stream's chunks. */
struct tail {
    char id[GF_LOGS_ID_MAX + 1]; /* "" = free slot */
    json_t *lines;
    size_t bytes;
    long dropped; /* older lines let go to stay within GF_REMOTE_TAIL_BYTES */
    int done;
    char reason[160];
};

/* A result kept: not sent yet, or final and not acknowledged by the server yet. */
struct pending {
    char id[GF_CMD_ID_MAX + 1];
    char *json;
    size_t len;
    int final;       /* kept until the server acknowledges it ({"cmd_id"} on ack) */
    int64_t sent_us; /* when it was last published; 0: not yet */
    long wait_ms;    /* a final one goes again this long after sent_us */
};

struct gf_remote {
    struct gf_cmd *cmd;
    struct gf_logs *logs;
    struct gf_bundler *bundler;
    void (*restart)(void *ud);
    void *restart_ud;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    struct gf_session *session;
    int users; /* threads publishing on session right now (session_hold) */
    enum gf_remote_want want;
    int answered;
    json_t *answer;
    struct pending pend[GF_REMOTE_PENDING_MAX];
    size_t npend;
    struct tail tails[GF_REMOTE_TAILS];
    int closing; /* gf_remote_free: built-ins waiting for the main thread give up */
};

/* The session to publish on, or NULL; non-NULL must be given back with session_release.
 *
 * A publish goes through paho, which takes its own lock (mqttasync_mutex) and calls back
 * (on_message -> gf_remote_request -> publish_result) while holding that lock, so r->mu
 * must never be held across a publish: that would be a lock-order inversion. Instead each
 * publisher counts itself in r->users, and gf_remote_session waits for the count to drop to
 * zero before it returns, so the session it replaced can be freed. This cannot deadlock:
 * between hold and release a thread takes no lock of ours but the session's leaf locks, and
 * never waits for the thread in gf_remote_session, which holds no lock while it waits. */
static struct gf_session *session_hold(struct gf_remote *r)
{
    pthread_mutex_lock(&r->mu);
    struct gf_session *s = r->session;
    if (s != NULL) {
        r->users++;
    }
    pthread_mutex_unlock(&r->mu);
    return s;
}

static void session_release(struct gf_remote *r)
{
    pthread_mutex_lock(&r->mu);
    if (--r->users == 0) {
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Keep p (its json is ours now) at the end of the queue; past GF_REMOTE_PENDING_MAX the
 * oldest is dropped. r->mu held. */
static void keep_locked(struct gf_remote *r, const struct pending *p)
{
    if (r->npend == GF_REMOTE_PENDING_MAX) {
        gf_log_warn("command result dropped: too many kept", "id=%s", r->pend[0].id);
        gf_free(r->pend[0].json);
        memmove(&r->pend[0], &r->pend[1], sizeof(r->pend[0]) * (GF_REMOTE_PENDING_MAX - 1));
        r->npend--;
    }
    r->pend[r->npend++] = *p;
}

/* hooks->publish: the result now, or at the next connect; a final one is also kept until
 * the server acknowledges it (see the top). */
static enum gf_err publish_result(void *ud, const char *id, const char *json, size_t len,
                                  int final)
{
    struct gf_remote *r = ud;
    struct gf_session *s = session_hold(r);
    int sent = s != NULL && gf_session_publish_result(s, id ? id : "", json, len) == GF_OK;
    struct pending p = {0};

    if (s != NULL) {
        session_release(r);
    }
    p.final = final;
    if (sent && !p.final) {
        return GF_OK;
    }
    if ((p.json = gf_malloc(len + 1)) == NULL) {
        return GF_OK; /* the server ends the command at its deadline */
    }
    memcpy(p.json, json, len);
    p.json[len] = '\0';
    p.len = len;
    snprintf(p.id, sizeof(p.id), "%s", id ? id : "");
    p.sent_us = sent ? gf_time_mono_us() : 0;
    p.wait_ms = GF_REMOTE_RESEND_MIN_MS;
    pthread_mutex_lock(&r->mu);
    keep_locked(r, &p);
    pthread_mutex_unlock(&r->mu);
    return GF_OK;
}

/* Send the kept results that are due (never sent, or final and not acknowledged within their
 * wait), oldest first, one at a time and without r->mu (session_hold). One that cannot be
 * sent goes back to the front and ends the round. */
static void resend_due(struct gf_remote *r)
{
    struct gf_session *s = session_hold(r);
    struct pending p;

    for (size_t round = 0; s != NULL && round < GF_REMOTE_PENDING_MAX; round++) {
        int64_t now = gf_time_mono_us();
        size_t i = 0;
        pthread_mutex_lock(&r->mu);
        while (i < r->npend && r->pend[i].sent_us != 0 &&
               now - r->pend[i].sent_us < r->pend[i].wait_ms * 1000LL) {
            i++;
        }
        if (i == r->npend) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        p = r->pend[i];
        memmove(&r->pend[i], &r->pend[i + 1], sizeof(r->pend[0]) * (r->npend - i - 1));
        r->npend--;
        pthread_mutex_unlock(&r->mu);
        int sent = gf_session_publish_result(s, p.id, p.json, p.len) == GF_OK;
        if (sent && !p.final) {
            gf_free(p.json);
            continue;
        }
        if (sent && p.sent_us != 0) {
            gf_log_info("command result not acknowledged; sent it again", "id=%s", p.id);
            p.wait_ms =
                p.wait_ms * 2 > GF_REMOTE_RESEND_MAX_MS ? GF_REMOTE_RESEND_MAX_MS : p.wait_ms * 2;
        }
        if (sent) {
            p.sent_us = now;
        }
        pthread_mutex_lock(&r->mu);
        if (sent) {
            keep_locked(r, &p);                        /* until the server acknowledges it */
        } else if (r->npend < GF_REMOTE_PENDING_MAX) { /* back to the front */
            memmove(&r->pend[1], &r->pend[0], sizeof(r->pend[0]) * r->npend);
            r->pend[0] = p;
            r->npend++;
        } else { /* the queue filled up meanwhile: p is the oldest */
            gf_log_warn("command result dropped: too many kept", "id=%s", p.id);
            gf_free(p.json);
        }
        pthread_mutex_unlock(&r->mu);
        if (!sent) {
            break;
        }
    }
    if (s != NULL) {
        session_release(r);
    }
}

/* Ask the main thread for what, and wait for its answer (one request at a time). */
static enum gf_err ask_main(struct gf_remote *r, enum gf_remote_want what, json_t **result)
{
    struct timespec until;
    enum gf_err err = GF_OK;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GF_REMOTE_WAIT_MS / 1000;
    pthread_mutex_lock(&r->mu);
    while (r->want != GF_REMOTE_NONE && err == GF_OK) {
        if (r->closing) {
            err = GF_ERR_UNAVAILABLE;
        } else if (pthread_cond_timedwait(&r->cv, &r->mu, &until) != 0) {
            err = GF_ERR_TIMEOUT;
        }
    }
    if (err == GF_OK) {
        r->want = what;
        r->answered = 0;
        if (r->session != NULL) {
            gf_session_wake(r->session); /* under r->mu: it takes only s->mu, a leaf lock */
        }
        while (!r->answered && err == GF_OK) {
            if (r->closing) {
                err = GF_ERR_UNAVAILABLE;
            } else if (pthread_cond_timedwait(&r->cv, &r->mu, &until) != 0) {
                err = GF_ERR_TIMEOUT;
            }
        }
        *result = r->answered ? r->answer : NULL;
        r->answer = NULL;
        if (r->answered && *result == NULL) {
            err = GF_ERR_INTERNAL;
        }
        r->want = GF_REMOTE_NONE;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return err;
}

static enum gf_err health_now(void *ud, json_t **result)
{
    return ask_main(ud, GF_REMOTE_SAMPLE, result);
}

static enum gf_err inventory_refresh(void *ud, json_t **result)
{
    return ask_main(ud, GF_REMOTE_BIRTH, result);
}

static enum gf_err bundle_status(void *ud, json_t **result)
{
    struct gf_remote *r = ud;
    char applied[512] = "null";

    if (r->bundler != NULL) {
        gf_bundler_applied(r->bundler, applied, sizeof(applied));
    }
    json_t *a = json_loads(applied, JSON_DECODE_ANY, NULL);
    *result = json_pack("{s:o}", "applied", a ? a : json_null());
    return *result ? GF_OK : GF_ERR_NOMEM;
}

/* logs.tail {path | unit, lines}: the last lines, as a log stream that does not follow. */
static enum gf_err logs_tail(void *ud, const json_t *args, json_t **result)
{
    struct gf_remote *r = ud;
    struct gf_logs_req q;
    struct gf_diag d;
    struct tail *t = NULL;
    struct timespec until;
    unsigned char rnd[8];
    enum gf_err err;

    memset(&q, 0, sizeof(q));
    randombytes_buf(rnd, sizeof(rnd));
    snprintf(q.stream_id, sizeof(q.stream_id), "tail-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    q.path = json_string_value(json_object_get(args, "path"));
    q.unit = json_string_value(json_object_get(args, "unit"));
    q.past_lines = json_is_integer(json_object_get(args, "lines"))
                       ? (long)json_integer_value(json_object_get(args, "lines"))
                       : 100;
    q.max_duration_ms = GF_REMOTE_TAIL_MS;
    pthread_mutex_lock(&r->mu);
    for (int k = 0; k < GF_REMOTE_TAILS && t == NULL; k++) {
        if (r->tails[k].id[0] == '\0') {
            t = &r->tails[k];
            memset(t, 0, sizeof(*t));
            snprintf(t->id, sizeof(t->id), "%s", q.stream_id);
            t->lines = json_array();
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (t == NULL) {
        return GF_ERR_RATELIMIT;
    }
    gf_diag_clear(&d);
    if ((err = gf_logs_start(r->logs, &q, &d)) != GF_OK) {
        gf_log_info("logs.tail refused", "where=%s error=\"%s\"", d.where, d.msg);
        goto out;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GF_REMOTE_TAIL_MS / 1000 + 2;
    pthread_mutex_lock(&r->mu);
    while (!t->done && err == GF_OK) {
        if (r->closing) {
            err = GF_ERR_UNAVAILABLE;
        } else if (pthread_cond_timedwait(&r->cv, &r->mu, &until) != 0) {
            err = GF_ERR_TIMEOUT;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (err == GF_OK) {
        *result = json_pack("{s:O, s:I, s:s, s:s?, s:s?}", "lines", t->lines, "dropped",
                            (json_int_t)t->dropped, "reason", t->reason, "path", q.path, "unit",
                            q.unit);
        err = *result ? GF_OK : GF_ERR_NOMEM;
    }
out:
    gf_logs_stop(r->logs, q.stream_id);
    pthread_mutex_lock(&r->mu);
    json_decref(t->lines);
    memset(t, 0, sizeof(*t));
    pthread_mutex_unlock(&r->mu);
    return err;
}

/* agent.restart: the agent's hook sets its flag, then the main loop is woken here, under
 * r->mu, so that the session cannot be freed meanwhile (re-enrollment swaps it). */
static void restart(void *ud)
{
    struct gf_remote *r = ud;

    if (r->restart != NULL) {
        r->restart(r->restart_ud);
    }
    pthread_mutex_lock(&r->mu);
    if (r->session != NULL) {
        gf_session_wake(r->session);
    }
    pthread_mutex_unlock(&r->mu);
}

/* A chunk of a logs.tail stream: its lines into the waiting command (under r->mu). */
static void tail_chunk(struct gf_remote *r, const char *stream, const char *json, size_t len)
{
    json_t *c = json_loadb(json, len, 0, NULL), *line;
    size_t i;

    for (int k = 0; k < GF_REMOTE_TAILS; k++) {
        struct tail *t = &r->tails[k];
        if (t->id[0] == '\0' || strcmp(t->id, stream) != 0 || c == NULL) {
            continue;
        }
        json_array_foreach(json_object_get(c, "lines"), i, line) {
            t->bytes += json_string_length(line);
            json_array_append(t->lines, line);
        }
        while (t->bytes > GF_REMOTE_TAIL_BYTES && json_array_size(t->lines) > 0) {
            t->bytes -= json_string_length(json_array_get(t->lines, 0));
            json_array_remove(t->lines, 0);
            t->dropped++;
        }
        t->dropped += (long)json_integer_value(json_object_get(c, "dropped"));
        if (json_is_true(json_object_get(c, "end"))) {
            snprintf(t->reason, sizeof(t->reason), "%s",
                     json_string_value(json_object_get(c, "reason"))
                         ? json_string_value(json_object_get(c, "reason"))
                         : "done");
            t->done = 1;
            pthread_cond_broadcast(&r->cv);
        }
    }
    json_decref(c);
}

static enum gf_err publish_chunk(void *ud, const char *stream, const char *json, size_t len)
{
    struct gf_remote *r = ud;

    if (strncmp(stream, "tail-", 5) == 0) {
        pthread_mutex_lock(&r->mu);
        tail_chunk(r, stream, json, len);
        pthread_mutex_unlock(&r->mu);
        return GF_OK; /* kept here, never published */
    }
    struct gf_session *s = session_hold(r);
    if (s == NULL) {
        return GF_ERR_UNAVAILABLE;
    }
    enum gf_err err = gf_session_publish_chunk(s, stream, json, len, GF_REMOTE_CHUNKS_INFLIGHT);
    session_release(r);
    return err;
}

/* Publish a final result for a log-stream request. */
static void logs_result(struct gf_remote *r, const char *id, const char *status,
                        const char *error, json_t *result)
{
    json_t *o = json_pack("{s:s, s:s, s:s?, s:o?}", "id", id, "status", status, "error", error,
                          "result", result);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    if (text != NULL) {
        publish_result(r, id, text, strlen(text), 1);
    }
    free(text);
    json_decref(o);
}

/* logs.stream.start {stream_id, path|unit, lines, follow, filter, max_duration_ms} and
 * logs.stream.stop {stream_id}: the arguments are checked as strictly as a command's (no
 * unknown key, types and bounds), then gf_logs_start checks what they name. */
static void logs_request(struct gf_remote *r, const char *id, const char *name, const json_t *args)
{
    static const struct gf_json_field start_f[] = {
        {"stream_id", GF_JSON_STRING, 1, 0, 1, GF_LOGS_ID_MAX, 0, 0},
        {"path", GF_JSON_STRING, 0, 1, 1, 4096, 0, 0},
        {"unit", GF_JSON_STRING, 0, 1, 1, GF_UNIT_NAME_MAX, 0, 0},
        {"lines", GF_JSON_INT, 0, 0, 0, 0, 0, GF_LOGS_PAST_MAX},
        {"follow", GF_JSON_BOOL, 0, 0, 0, 0, 0, 0},
        {"filter", GF_JSON_STRING, 0, 1, 0, GF_LOGS_FILTER_MAX, 0, 0},
        {"max_duration_ms", GF_JSON_INT, 1, 0, 0, 0, GF_LOGS_DURATION_MIN, GF_LOGS_DURATION_MAX},
    };
    static const struct gf_json_field stop_f[] = {
        {"stream_id", GF_JSON_STRING, 1, 0, 1, GF_LOGS_ID_MAX, 0, 0},
    };
    int stop = strcmp(name, "logs.stream.stop") == 0;
    struct gf_logs_req q;
    struct gf_diag d;
    char err[400];

    if (!stop && strcmp(name, "logs.stream.start") != 0) {
        logs_result(r, id, "rejected", "unknown command", NULL);
        return;
    }
    gf_diag_clear(&d);
    if (!json_is_object(args) ||
        gf_json_check(args, stop ? stop_f : start_f,
                      stop ? sizeof(stop_f) / sizeof(stop_f[0])
                           : sizeof(start_f) / sizeof(start_f[0]),
                      "/args", &d) != GF_OK) {
        logs_result(r, id, "rejected", d.msg[0] ? d.msg : "/args must be an object", NULL);
        return;
    }
    const char *stream = gf_json_str(args, "stream_id");
    if (strncmp(stream, "tail-", 5) == 0) { /* logs.tail's own streams (publish_chunk) */
        logs_result(r, id, "rejected", "/args/stream_id: \"tail-\" ids are reserved", NULL);
        return;
    }
    if (stop) {
        int running = gf_logs_stop(r->logs, stream) == GF_OK;
        logs_result(r, id, "succeeded", NULL,
                    json_pack("{s:s, s:b}", "stream_id", stream, "was_running", running));
        return;
    }
    memset(&q, 0, sizeof(q));
    snprintf(q.stream_id, sizeof(q.stream_id), "%s", stream);
    q.path = gf_json_str(args, "path");
    q.unit = gf_json_str(args, "unit");
    q.past_lines = (long)gf_json_int(args, "lines", 0);
    q.follow = gf_json_bool(args, "follow", 0);
    q.filter = gf_json_str(args, "filter");
    q.max_duration_ms = (long)gf_json_int(args, "max_duration_ms", 0);
    gf_diag_clear(&d);
    enum gf_err e = gf_logs_start(r->logs, &q, &d);
    if (e == GF_ERR_EXISTS) {
        /* The same request again (QoS 1 redelivery after a reconnect): it is running. */
        logs_result(r, id, "succeeded", NULL, json_pack("{s:s}", "stream_id", stream));
        return;
    }
    if (e != GF_OK) {
        snprintf(err, sizeof(err), "%s%s%s", d.where[0] ? d.where : "", d.where[0] ? ": " : "",
                 d.msg[0] ? d.msg : gf_err_str(e));
        gf_log_warn("log stream refused", "stream=%s error=\"%s\"", stream, err);
        logs_result(r, id, "rejected", err, NULL);
        return;
    }
    logs_result(r, id, "succeeded", NULL, json_pack("{s:s}", "stream_id", stream));
}

void gf_remote_request(struct gf_remote *r, const void *payload, size_t len, long expiry_ms)
{
    json_t *req = json_loadb(payload, len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *id = json_string_value(json_object_get(req, "id"));

    if (name != NULL && id != NULL && strlen(id) <= GF_CMD_ID_MAX &&
        strncmp(name, "logs.stream.", 12) == 0) {
        logs_request(r, id, name, json_object_get(req, "args"));
    } else {
        gf_cmd_submit(r->cmd, payload, len, expiry_ms); /* it answers bad requests itself */
    }
    json_decref(req);
}

enum gf_err gf_remote_new(const struct gf_agent_config *cfg, struct gf_bundler *bundler,
                          void (*restart_fn)(void *ud), void *ud, struct gf_remote **out,
                          struct gf_diag *diag)
{
    struct gf_remote *r = gf_calloc(1, sizeof(*r));
    enum gf_err err;

    *out = NULL;
    if (r == NULL) {
        return GF_ERR_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->bundler = bundler;
    r->restart = restart_fn;
    r->restart_ud = ud;
    struct gf_cmd_hooks h = {r,         health_now, inventory_refresh, bundle_status,
                             logs_tail, restart,    publish_result};
    struct gf_cmd_opts co = {cfg->commands_file, cfg->commands_allow_shell,
                             cfg->commands_max_running, cfg->commands_output_max,
                             cfg->state_dir};
    if ((err = gf_cmd_new(&co, &h, &r->cmd, diag)) != GF_OK) {
        goto fail;
    }
    struct gf_logs_opts lo = {0};
    lo.files = cfg->log_files;
    lo.units = cfg->log_units;
    lo.rate_lines = cfg->log_rate_lines;
    lo.rate_bytes = cfg->log_rate_bytes;
    lo.streams_max = cfg->log_streams_max;
    lo.publish = publish_chunk;
    lo.ud = r;
    if ((err = gf_logs_new(&lo, &r->logs, diag)) != GF_OK) {
        goto fail;
    }
    *out = r;
    return GF_OK;
fail:
    gf_remote_free(r);
    return err;
}

void gf_remote_session(struct gf_remote *r, struct gf_session *s)
{
    pthread_mutex_lock(&r->mu);
    r->session = s;
    while (r->users > 0) { /* publishes still on the old session (session_hold) */
        pthread_cond_wait(&r->cv, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
}

void gf_remote_connected(struct gf_remote *r)
{
    resend_due(r);
    gf_logs_kick(r->logs);
}

void gf_remote_tick(struct gf_remote *r)
{
    resend_due(r);
}

/* Every kept copy goes (a duplicate request republishes a result). An ack that comes while
 * resend_due has its result out of the queue (a publish call's microseconds) is missed: that
 * costs one more send and one more ack. */
void gf_remote_result_acked(struct gf_remote *r, const char *id)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npend;) {
        if (r->pend[i].final && strcmp(r->pend[i].id, id) == 0) {
            gf_free(r->pend[i].json);
            memmove(&r->pend[i], &r->pend[i + 1], sizeof(r->pend[0]) * (r->npend - i - 1));
            r->npend--;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

enum gf_remote_want gf_remote_wanted(struct gf_remote *r)
{
    pthread_mutex_lock(&r->mu);
    enum gf_remote_want w = r->answered ? GF_REMOTE_NONE : r->want;
    pthread_mutex_unlock(&r->mu);
    return w;
}

void gf_remote_done(struct gf_remote *r, enum gf_remote_want what, json_t *result)
{
    pthread_mutex_lock(&r->mu);
    if (r->want == what && !r->answered) {
        r->answer = json_incref(result);
        r->answered = 1;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

void gf_remote_free(struct gf_remote *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->closing = 1; /* a built-in waiting for the main thread (which is here) gives up */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    gf_cmd_free(r->cmd); /* stops and joins: no hook runs after this */
    gf_logs_free(r->logs);
    for (size_t i = 0; i < r->npend; i++) {
        gf_free(r->pend[i].json);
    }
    json_decref(r->answer);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    gf_free(r);
}
