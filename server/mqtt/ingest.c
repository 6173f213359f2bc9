/* SPDX-License-Identifier: Apache-2.0
 *
 * ingest.c - queue and writer threads of the MQTT ingest (see ingest.h).
 *
 * A writer takes up to batch_max messages, validates them (docs/mqtt.md), and runs one
 * transaction: lock the batch's accepted node rows in id order (two replicas never
 * deadlock and never both pass the de-duplication check), presence events in arrival order
 * (gf_node_seen: the session-number rule), births, one statement for all health records,
 * one for last-seen. After COMMIT it publishes an ack per (node, boot) and one per final
 * bundle status or command result. While the desired outbox has a backlog, writers give way to it
 * for a while (give_way, ingest.h). A database failure keeps the batch and retries it with backoff,
 * so nothing taken off the broker is lost while the server lives; if the server dies instead, the
 * agents resend what was not acknowledged (health samples, final bundle statuses and command
 * results; docs/internals/ingest.md, "What a crash of the server loses").
 */
#define GF_LOG_MODULE "ingest"

#include "ingest.h"

#include "../core/app.h"
#include "../store/db.h"
#include "../store/q_commands.h"
#include "../store/q_rollouts.h"
#include "../store/q_ingest.h"
#include "alloc.h"
#include "conn.h"
#include "gf_limits.h"
#include "ids.h"
#include "jscan.h"
#include "json.h"
#include "log.h"
#include "timefmt.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GF_INGEST_WRITERS_MAX 16
#define GF_INGEST_FUTURE_US (24LL * 3600 * 1000000) /* later than this: clock skew */
#define GF_INGEST_BATCH_BYTES (512u * 1024u)         /* payload bytes per transaction */
#define GF_INGEST_HOLD_STEP_MS 2                     /* give_way's polling step */

enum kind { K_STATE, K_BIRTH, K_HEALTH, K_BUNDLE, K_CMDRES, K_LOGS };

struct item {
    struct item *next;
    struct gf_mconn *conn;
    enum kind kind;
    char node[40];
    char stream[40]; /* K_LOGS: the stream id of the topic */
    char *payload;   /* NUL-terminated copy */
    size_t len;
};

enum drop_reason { D_TOPIC, D_TOOBIG, D_MALFORMED, D_UNKNOWN_NODE, D_CLOCK, D_TOO_OLD, D__COUNT };
static const char *const drop_names[D__COUNT] = {"topic", "oversize", "malformed",
                                                 "unknown_node", "clock_skew", "too_old"};

/* One writer and its queue. A node's messages always go to the same lane (hash of the node
 * id), so they are committed in arrival order: the de-duplication by high-water mark relies
 * on that. */
struct lane {
    struct gf_ingest *ing;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *head, *tail;
    size_t depth;
    size_t bytes;
    int stopping;
    pthread_t thread;
};

struct gf_ingest {
    struct gf_app *app;
    struct gf_ingest_opts o;
    struct lane lanes[GF_INGEST_WRITERS_MAX];
    int nlanes;
    atomic_llong last_db_error_us;
    atomic_ullong received, stored, duplicates, acks, ack_failures, batches, db_errors, full;
    atomic_ullong dropped[D__COUNT];
    atomic_ullong commit_us_total, held_us;
};

static void count_drop(struct gf_ingest *ing, enum drop_reason r)
{
    atomic_fetch_add(&ing->dropped[r], 1);
}

static void item_free(struct item *it)
{
    if (it != NULL) {
        gf_free(it->payload);
        gf_free(it);
    }
}

/* "gf/v1/n/<uuid>/<kind>" -> node, kind. */
static int parse_topic(const char *topic, char *node, char *stream, enum kind *kind)
{
    static const char prefix[] = "gf/v1/n/";
    const char *p = topic, *slash;

    if (strncmp(p, prefix, sizeof(prefix) - 1) != 0) {
        return 0;
    }
    p += sizeof(prefix) - 1;
    slash = strchr(p, '/');
    if (slash == NULL || slash - p != 36) {
        return 0;
    }
    memcpy(node, p, 36);
    node[36] = '\0';
    if (!gf_uuid_valid(node)) {
        return 0;
    }
    if (strcmp(slash + 1, "state") == 0) {
        *kind = K_STATE;
    } else if (strcmp(slash + 1, "birth") == 0) {
        *kind = K_BIRTH;
    } else if (strcmp(slash + 1, "health") == 0) {
        *kind = K_HEALTH;
    } else if (strcmp(slash + 1, "bundle/status") == 0) {
        *kind = K_BUNDLE;
    } else if (strcmp(slash + 1, "cmd/res") == 0) {
        *kind = K_CMDRES;
    } else if (strncmp(slash + 1, "logs/", 5) == 0 && strlen(slash + 6) == 36 &&
               gf_uuid_valid(slash + 6)) {
        *kind = K_LOGS;
        memcpy(stream, slash + 6, 37);
    } else {
        return 0;
    }
    return 1;
}

static int lane_full(const struct gf_ingest *ing, const struct lane *ln, size_t len)
{
    return ln->depth > 0 && (ln->depth >= ing->o.queue_max / (size_t)ing->nlanes ||
                             ln->bytes + len > ing->o.queue_bytes / (size_t)ing->nlanes);
}

/* Room for a health message in its lane? paho has already acknowledged a QoS 1 message to
 * the broker when it hands it over, and it keeps whatever messageArrived refuses in its own
 * unbounded memory, so a full lane drops a health message instead: it is not acknowledged,
 * and its agent sends it again. (Making paho's receive thread wait for room is no way out:
 * the writer's acks go through the same client, and the two stall each other.) */
static int has_room(const struct gf_ingest *ing, struct lane *ln, size_t len)
{
    int room;

    pthread_mutex_lock(&ln->mu);
    room = !lane_full(ing, ln, len);
    pthread_mutex_unlock(&ln->mu);
    return room;
}

int gf_ingest_push(struct gf_ingest *ing, struct gf_mconn *conn, const char *topic,
                   const void *payload, size_t len)
{
    struct item *it;
    char node[40], stream[40] = "";
    enum kind kind;

    if (!parse_topic(topic, node, stream, &kind)) {
        count_drop(ing, D_TOPIC);
        return 1;
    }
    if (len > GF_LIMIT_MQTT_PAYLOAD) {
        count_drop(ing, D_TOOBIG);
        return 1;
    }
    struct lane *ln = &ing->lanes[gf_hash_str(node) % (uint32_t)ing->nlanes];
    if (kind == K_HEALTH && !has_room(ing, ln, len)) {
        atomic_fetch_add(&ing->full, 1); /* not acknowledged: the agent sends it again */
        return 1;
    }
    if ((it = gf_calloc(1, sizeof(*it))) == NULL || (it->payload = gf_malloc(len + 1)) == NULL) {
        gf_free(it);
        return 0;
    }
    memcpy(it->payload, payload, len);
    it->payload[len] = '\0';
    it->len = len;
    it->conn = conn;
    it->kind = kind;
    memcpy(it->node, node, sizeof(node));
    memcpy(it->stream, stream, sizeof(stream));
    atomic_fetch_add(&ing->received, 1);
    pthread_mutex_lock(&ln->mu);
    if (ln->tail) {
        ln->tail->next = it;
    } else {
        ln->head = it;
    }
    ln->tail = it;
    ln->depth++;
    ln->bytes += len;
    pthread_cond_signal(&ln->cv);
    pthread_mutex_unlock(&ln->mu);
    return 1;
}

/* ------------------------------------------------------------------ validation */

static const char *str_field(const json_t *o, const char *key, size_t max)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        return NULL;
    }
    return json_string_value(v);
}

static int int_field(const json_t *o, const char *key, long long min, long long max,
                     long long *out)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

/* One record of a health message, scanned: the sample stays text in the payload. */
struct health_rec {
    long long seq;
    int64_t at;
    const char *sample;
    size_t sample_len;
};

/* One batch being built: the JSON parameters of the statements, and what to do per node.
 * The health records are JSON text built as the messages are scanned (each sample's text
 * is copied as the agent sent it), the rest are small jansson values. */
struct batch {
    json_t *lock_ids;         /* ["uuid", ...] */
    struct gf_buf recs;       /* [{"n","b","s","a","v","k"}, ...] */
    size_t nrecs;
    json_t *seen;             /* [{n, session, boot, dropped}] */
    json_t *events;           /* [{kind, node, ...}] presence and births in arrival order */
    json_t *bundles;          /* [{n, bundle, version, sha, state, reason, gen, o}] */
    json_t *cmdres;           /* [{n, id, status, exit_code, ..., o}] (cmd/res) */
    json_t *chunks;           /* [{n, s, seq, c, end, reason, lines, dropped}] (logs/...) */
    json_t *node_conn;        /* node -> index of the item whose conn acks it */
    struct health_rec *scratch; /* GF_LIMIT_HEALTH_RECORDS: one message's records */
};

/* What a health message says, scanned (jscan.h) rather than parsed into a tree: the
 * samples are most of the ingest's bytes and only pass through. */
struct health_msg {
    const char *boot;
    size_t boot_len;
    long long session, dropped;
    struct health_rec *recs;
    size_t nrecs;
};

/* A record: {"seq", "at", "sample"} (other keys ignored), each once. */
static int scan_record(struct gf_jscan *s, struct health_rec *rec)
{
    struct gf_jval k, v;
    size_t n = 0, len;
    unsigned seen = 0;
    int r;

    if (!gf_jscan_enter(s, '{')) {
        return 0;
    }
    while ((r = gf_jscan_next(s, '}', &n)) > 0) {
        unsigned bit = 0;
        if (!gf_jscan_key(s, &k) || !gf_jscan_value(s, &v)) {
            return 0;
        }
        if (gf_jval_is(&k, "seq")) {
            bit = 1;
            if (!gf_jval_int(&v, 1, INT64_MAX, &rec->seq)) {
                return 0;
            }
        } else if (gf_jval_is(&k, "at")) {
            char text[41];
            const char *t = gf_jval_plain(&v, 40, &len);
            bit = 2;
            if (t == NULL) {
                return 0;
            }
            memcpy(text, t, len);
            text[len] = '\0';
            if (gf_time_parse_rfc3339(text, &rec->at) != GF_OK) {
                return 0;
            }
        } else if (gf_jval_is(&k, "sample")) {
            bit = 4;
            if (v.type != GF_J_OBJECT) {
                return 0;
            }
            rec->sample = v.text;
            rec->sample_len = v.len;
        }
        if (seen & bit) {
            return 0;
        }
        seen |= bit;
    }
    return r == 0 && seen == 7u;
}

/* The records array: 1..GF_LIMIT_HEALTH_RECORDS records into h->recs. */
static int scan_records(struct gf_jscan *s, struct health_msg *h)
{
    size_t n = 0;
    int r;

    if (!gf_jscan_enter(s, '[')) {
        return 0;
    }
    while ((r = gf_jscan_next(s, ']', &n)) > 0) {
        if (n > GF_LIMIT_HEALTH_RECORDS || !scan_record(s, &h->recs[n - 1])) {
            return 0;
        }
    }
    h->nrecs = n;
    return r == 0 && n > 0;
}

/* {"boot_id", "session", "records", "dropped"?} (other keys ignored), each once. */
static int scan_health(const struct item *it, struct health_msg *h)
{
    struct gf_jscan s;
    struct gf_jval k, v;
    size_t n = 0;
    unsigned seen = 0;
    int r;

    gf_jscan_init(&s, it->payload, it->len);
    if (!gf_utf8_valid(it->payload, it->len) || !gf_jscan_enter(&s, '{')) {
        return 0;
    }
    while ((r = gf_jscan_next(&s, '}', &n)) > 0) {
        unsigned bit = 0;
        if (!gf_jscan_key(&s, &k)) {
            return 0;
        }
        if (gf_jval_is(&k, "records")) {
            bit = 8;
            if ((seen & bit) || !scan_records(&s, h)) {
                return 0;
            }
        } else if (!gf_jscan_value(&s, &v)) {
            return 0;
        } else if (gf_jval_is(&k, "boot_id")) {
            bit = 1;
            if ((h->boot = gf_jval_plain(&v, 64, &h->boot_len)) == NULL) {
                return 0;
            }
        } else if (gf_jval_is(&k, "session")) {
            bit = 2;
            if (!gf_jval_int(&v, 0, INT64_MAX, &h->session)) {
                return 0;
            }
        } else if (gf_jval_is(&k, "dropped")) {
            bit = 4;
            if (!gf_jval_int(&v, 0, INT64_MAX, &h->dropped)) {
                return 0;
            }
        }
        if (seen & bit) {
            return 0; /* a field given twice */
        }
        seen |= bit;
    }
    return r == 0 && gf_jscan_end(&s) && (seen & 11u) == 11u;
}

/* Add a health message's records: the message is taken whole or not at all. */
static int add_health(struct gf_ingest *ing, struct batch *b, const struct item *it)
{
    struct health_msg h = {.recs = b->scratch};
    int64_t now = gf_time_now_us(), floor = now - (int64_t)ing->o.retention_days * 86400 * 1000000;
    size_t mark = b->recs.len, nmark = b->nrecs;
    unsigned skewed = 0, old = 0;

    if (!scan_health(it, &h)) {
        return 0;
    }
    for (size_t i = 0; i < h.nrecs; i++) {
        const struct health_rec *rec = &h.recs[i];
        int64_t at = rec->at;
        char ts[40];
        int keep = 1;
        if (at > now + GF_INGEST_FUTURE_US) {
            skewed++; /* stored, at the receive time */
            at = now;
        } else if (at < floor) {
            old++; /* acknowledged, not stored */
            keep = 0;
        }
        gf_time_format_rfc3339(at, ts, sizeof(ts));
        if (gf_buf_puts(&b->recs, b->nrecs++ ? ",{\"n\":\"" : "[{\"n\":\"") != GF_OK ||
            gf_buf_printf(&b->recs, "%s\",\"b\":\"%.*s\",\"s\":%lld,\"a\":\"%s\",\"v\":",
                          it->node, (int)h.boot_len, h.boot, rec->seq, ts) != GF_OK ||
            gf_buf_append(&b->recs, rec->sample, rec->sample_len) != GF_OK ||
            gf_buf_puts(&b->recs, keep ? ",\"k\":true}" : ",\"k\":false}") != GF_OK) {
            b->recs.len = mark; /* out of memory: drop the message, the agent resends */
            b->nrecs = nmark;
            if (b->recs.data != NULL) {
                b->recs.data[mark] = '\0';
            }
            return 0;
        }
    }
    atomic_fetch_add(&ing->dropped[D_CLOCK], skewed);
    atomic_fetch_add(&ing->dropped[D_TOO_OLD], old);
    json_array_append_new(b->seen, json_pack("{s:s, s:I, s:s%, s:I}", "n", it->node, "session",
                                             (json_int_t)h.session, "boot", h.boot,
                                             h.boot_len, "dropped", (json_int_t)h.dropped));
    return 1;
}

static int add_state(struct batch *b, const struct item *it, const json_t *msg)
{
    const char *state = str_field(msg, "state", 16), *boot = str_field(msg, "boot_id", 64);
    const char *reason = str_field(msg, "reason", 32);
    long long session;

    if (state == NULL || boot == NULL || !int_field(msg, "session", 0, INT64_MAX, &session) ||
        (strcmp(state, "online") != 0 && strcmp(state, "offline") != 0)) {
        return 0;
    }
    int online = state[1] == 'n';
    if (!online && (reason == NULL || (strcmp(reason, "will") != 0 &&
                                       strcmp(reason, "shutdown") != 0))) {
        reason = "will";
    }
    json_array_append_new(b->events, json_pack("{s:s, s:s, s:b, s:I, s:s, s:s}", "kind", "state",
                                               "n", it->node, "online", online, "session",
                                               (json_int_t)session, "boot", boot, "reason",
                                               online ? "connected" : reason));
    return 1;
}

static int add_birth(struct batch *b, const struct item *it, const json_t *msg)
{
    const char *boot = str_field(msg, "boot_id", 64), *clock = str_field(msg, "clock", 40);
    const char *version = str_field(msg, "agent_version", 64);
    const json_t *inv = json_object_get(msg, "inventory");
    long long session, hi = 0, ka = 0;
    int64_t at;
    json_t *ev;

    if (boot == NULL || !int_field(msg, "session", 0, INT64_MAX, &session) ||
        (inv != NULL && !json_is_object(inv))) {
        return 0;
    }
    int_field(msg, "health_interval", 1, 86400, &hi);
    int_field(msg, "keepalive", 1, 86400, &ka);
    ev = json_pack("{s:s, s:s, s:I, s:s, s:o}", "kind", "birth", "n", it->node, "session",
                   (json_int_t)session, "boot", boot, "inventory",
                   inv ? json_incref((json_t *)inv) : json_object());
    if (ev == NULL) {
        return 0;
    }
    if (version) {
        json_object_set_new(ev, "version", json_string(version));
    }
    if (hi > 0) {
        json_object_set_new(ev, "hi", json_integer(hi));
    }
    if (ka > 0) {
        json_object_set_new(ev, "ka", json_integer(ka));
    }
    if (clock != NULL && gf_time_parse_rfc3339(clock, &at) == GF_OK) {
        json_object_set_new(ev, "offset", json_integer((gf_time_now_us() - at) / 1000));
    }
    json_array_append_new(b->events, ev);
    return 1;
}

/* A bundle/status message: {bundle_id, version, manifest_sha256, state, reason, gen?}. */
static int add_bundle(struct batch *b, const struct item *it, const json_t *msg)
{
    static const char *const states[] = {"downloading", "verifying", "applying", "applied",
                                         "failed", "rolled_back"};
    const char *bundle = str_field(msg, "bundle_id", 36), *state = str_field(msg, "state", 16);
    const char *sha = str_field(msg, "manifest_sha256", 64), *reason = str_field(msg, "reason",
                                                                                 300);
    long long version = 0, gen = 0;
    int known = 0;

    for (size_t i = 0; state != NULL && i < sizeof(states) / sizeof(states[0]); i++) {
        known |= strcmp(state, states[i]) == 0;
    }
    if (!known || (bundle != NULL && !gf_uuid_valid(bundle)) ||
        (json_object_get(msg, "version") && !int_field(msg, "version", 0, INT64_MAX, &version)) ||
        (json_object_get(msg, "gen") && !int_field(msg, "gen", 1, INT64_MAX, &gen))) {
        return 0;
    }
    json_t *ev = json_pack("{s:s, s:s?, s:I, s:s?, s:s, s:s?, s:I}", "n", it->node, "bundle",
                           bundle, "version", (json_int_t)version, "sha", sha, "state", state,
                           "reason", reason, "o", (json_int_t)json_array_size(b->bundles));
    if (ev != NULL && gen > 0) {
        json_object_set_new(ev, "gen", json_integer(gen));
    }
    return ev != NULL && json_array_append_new(b->bundles, ev) == 0;
}

/* A cmd/res message: {id, status, exit_code?, signal?, output?, output_truncated?, error?,
 * duration_ms?, result?} (agent/cmd/cmd.h). Only the node the command was for can end it:
 * the statement matches on both. */
static int add_cmdres(struct batch *b, const struct item *it, const json_t *msg)
{
    static const char *const states[] = {"running", "succeeded", "failed", "timed_out",
                                         "rejected"};
    const char *id = str_field(msg, "id", 36), *status = str_field(msg, "status", 16);
    const json_t *out = json_object_get(msg, "output"), *res = json_object_get(msg, "result");
    const char *error = str_field(msg, "error", 1000);
    long long code = 0, sig = 0, dur = 0;
    int known = 0;

    for (size_t i = 0; status != NULL && i < sizeof(states) / sizeof(states[0]); i++) {
        known |= strcmp(status, states[i]) == 0;
    }
    if (!known || id == NULL || !gf_uuid_valid(id) || (out != NULL && !json_is_string(out) &&
                                                       !json_is_null(out)) ||
        (json_is_integer(json_object_get(msg, "exit_code")) &&
         !int_field(msg, "exit_code", -1000, 1000, &code)) ||
        (json_is_integer(json_object_get(msg, "signal")) &&
         !int_field(msg, "signal", 0, 128, &sig)) ||
        (json_is_integer(json_object_get(msg, "duration_ms")) &&
         !int_field(msg, "duration_ms", 0, INT64_MAX, &dur))) {
        return 0;
    }
    json_t *ev = json_pack("{s:s, s:s, s:s, s:O?, s:b, s:s?, s:O?, s:I}", "n", it->node, "id", id,
                           "status", status, "output", json_is_string(out) ? out : NULL,
                           "trunc", json_is_true(json_object_get(msg, "output_truncated")),
                           "error", error, "result", res && !json_is_null(res) ? res : NULL,
                           "o", (json_int_t)json_array_size(b->cmdres));
    if (ev != NULL && json_is_integer(json_object_get(msg, "exit_code"))) {
        json_object_set_new(ev, "exit_code", json_integer(code));
    }
    if (ev != NULL && json_is_integer(json_object_get(msg, "signal"))) {
        json_object_set_new(ev, "signal", json_integer(sig));
    }
    if (ev != NULL && json_is_integer(json_object_get(msg, "duration_ms"))) {
        json_object_set_new(ev, "dur", json_integer(dur));
    }
    return ev != NULL && json_array_append_new(b->cmdres, ev) == 0;
}

/* A logs/{stream} chunk: {stream, seq, lines: [text...], dropped?, end?, reason?}, stored as
 * compact JSON: one line, as an SSE data field must be (the viewers get that text). */
static int add_chunk(struct batch *b, const struct item *it, const json_t *msg)
{
    const char *stream = str_field(msg, "stream", 36), *reason = str_field(msg, "reason", 300);
    const json_t *lines = json_object_get(msg, "lines"), *line;
    long long seq = 0, dropped = 0;
    size_t i;

    if (stream == NULL || strcmp(stream, it->stream) != 0 ||
        !int_field(msg, "seq", 1, INT64_MAX, &seq) || (lines != NULL && !json_is_array(lines)) ||
        (json_object_get(msg, "dropped") && !int_field(msg, "dropped", 0, INT64_MAX, &dropped))) {
        return 0;
    }
    json_array_foreach(lines, i, line) {
        if (!json_is_string(line)) {
            return 0;
        }
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    json_t *ev = text == NULL ? NULL
                              : json_pack("{s:s, s:s, s:I, s:s, s:b, s:s?, s:I, s:I}", "n",
                                          it->node, "s", it->stream, "seq", (json_int_t)seq, "c",
                                          text, "end", json_is_true(json_object_get(msg, "end")),
                                          "reason", reason, "lines",
                                          (json_int_t)json_array_size(lines), "dropped",
                                          (json_int_t)dropped);
    free(text);
    return ev != NULL && json_array_append_new(b->chunks, ev) == 0;
}

/* Parse one item into the batch; counts and skips malformed ones. */
static void add_item(struct gf_ingest *ing, struct batch *b, const struct item *it, size_t idx)
{
    json_t *msg = NULL;
    int ok;

    if (it->kind == K_HEALTH) {
        ok = add_health(ing, b, it);
    } else if (gf_json_parse_object(it->payload, it->len, &msg, NULL) != GF_OK) {
        ok = 0;
    } else {
        ok = it->kind == K_STATE    ? add_state(b, it, msg)
             : it->kind == K_BUNDLE ? add_bundle(b, it, msg)
             : it->kind == K_CMDRES ? add_cmdres(b, it, msg)
             : it->kind == K_LOGS   ? add_chunk(b, it, msg)
                                    : add_birth(b, it, msg);
        json_decref(msg);
    }
    if (!ok) {
        count_drop(ing, D_MALFORMED);
        return;
    }
    if (json_object_get(b->node_conn, it->node) == NULL) {
        json_array_append_new(b->lock_ids, json_string(it->node));
    }
    json_object_set_new(b->node_conn, it->node, json_integer((json_int_t)idx));
}

/* ------------------------------------------------------------------ the transaction */

static enum gf_err exec_json(struct gf_dbconn *db, const struct gf_stmt *st, json_t *param,
                             PGresult **res)
{
    char *text = json_dumps(param, JSON_COMPACT);
    enum gf_err err;

    if (text == NULL) {
        return GF_ERR_NOMEM;
    }
    const char *p[1] = {text};
    err = gf_db_exec(db, st, p, res);
    free(text);
    return err;
}

static enum gf_err run_event(struct gf_dbconn *db, const json_t *ev)
{
    char session[24], hi[16], ka[16], offset[24];
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *node = json_string_value(json_object_get(ev, "n"));
    const char *boot = json_string_value(json_object_get(ev, "boot"));

    snprintf(session, sizeof(session), "%lld",
             (long long)json_integer_value(json_object_get(ev, "session")));
    if (strcmp(kind, "state") == 0) {
        const char *p[5] = {node, json_is_true(json_object_get(ev, "online")) ? "true" : "false",
                            session, boot, json_string_value(json_object_get(ev, "reason"))};
        return gf_db_exec(db, &gf_q_ingest_presence, p, NULL);
    }
    /* birth: the node is online in this session, then its inventory. */
    const char *pp[5] = {node, "true", session, boot, "birth"};
    enum gf_err err = gf_db_exec(db, &gf_q_ingest_presence, pp, NULL);
    if (err != GF_OK) {
        return err;
    }
    char *inv = json_dumps(json_object_get(ev, "inventory"), JSON_COMPACT);
    if (inv == NULL) {
        return GF_ERR_NOMEM;
    }
    snprintf(hi, sizeof(hi), "%lld", (long long)json_integer_value(json_object_get(ev, "hi")));
    snprintf(ka, sizeof(ka), "%lld", (long long)json_integer_value(json_object_get(ev, "ka")));
    snprintf(offset, sizeof(offset), "%lld",
             (long long)json_integer_value(json_object_get(ev, "offset")));
    const char *bp[8] = {node,
                         inv,
                         json_string_value(json_object_get(ev, "version")),
                         json_object_get(ev, "hi") ? hi : NULL,
                         json_object_get(ev, "ka") ? ka : NULL,
                         json_object_get(ev, "offset") ? offset : NULL,
                         boot,
                         session};
    err = gf_db_exec(db, &gf_q_ingest_birth, bp, NULL);
    free(inv);
    return err;
}

/* Run the batch in one transaction. *acks receives the high-water rows (caller PQclears). */
static enum gf_err run_batch(struct gf_ingest *ing, struct gf_dbconn *db, struct batch *b,
                             PGresult **acks)
{
    PGresult *res = NULL;
    size_t i;
    json_t *ev;
    enum gf_err err = gf_db_begin(db);

    *acks = NULL;
    if (err != GF_OK) {
        return err;
    }
    if ((err = exec_json(db, &gf_q_ingest_lock, b->lock_ids, &res)) != GF_OK) {
        goto fail;
    }
    size_t known = (size_t)PQntuples(res);
    PQclear(res);
    if (known < json_array_size(b->lock_ids)) {
        ing->dropped[D_UNKNOWN_NODE] += json_array_size(b->lock_ids) - known;
    }
    json_array_foreach(b->events, i, ev) {
        if ((err = run_event(db, ev)) != GF_OK) {
            goto fail;
        }
    }
    if (json_array_size(b->bundles) > 0 &&
        (err = exec_json(db, &gf_q_bundle_status_batch, b->bundles, NULL)) != GF_OK) {
        goto fail;
    }
    if (json_array_size(b->cmdres) > 0 &&
        (err = exec_json(db, &gf_q_command_results, b->cmdres, NULL)) != GF_OK) {
        goto fail;
    }
    if (json_array_size(b->chunks) > 0 &&
        (err = exec_json(db, &gf_q_log_chunks, b->chunks, NULL)) != GF_OK) {
        goto fail;
    }
    if (b->nrecs > 0) {
        const char *p[1] = {b->recs.data};
        if ((err = gf_db_exec(db, &gf_q_ingest_health, p, acks)) != GF_OK ||
            (err = exec_json(db, &gf_q_ingest_seen, b->seen, NULL)) != GF_OK) {
            goto fail;
        }
    }
    if ((err = gf_db_commit(db)) != GF_OK) {
        goto fail;
    }
    return GF_OK;
fail:
    gf_db_rollback(db);
    PQclear(*acks);
    *acks = NULL;
    return err;
}

/* Publish payload (n bytes; n < 0 or past cap: it did not fit) on node's ack topic, on the
 * session its last message of the batch came in on. */
static void ack_node(struct gf_ingest *ing, struct batch *b, struct item **items, const char *node,
                     const char *payload, int n, size_t cap)
{
    const json_t *idx = json_object_get(b->node_conn, node);
    char topic[80];

    if (idx == NULL) {
        return;
    }
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/ack", node);
    if (n > 0 && (size_t)n < cap &&
        gf_mconn_publish(items[json_integer_value(idx)]->conn, topic, payload, (size_t)n, 1, 0) ==
            GF_OK) {
        atomic_fetch_add(&ing->acks, 1);
    } else {
        atomic_fetch_add(&ing->ack_failures, 1); /* the agent sends it again (stored once) */
    }
}

/* Publish an ack per (node, boot) row; stored counts from the last column. */
static void send_acks(struct gf_ingest *ing, struct batch *b, struct item **items, PGresult *acks)
{
    int rows = acks ? PQntuples(acks) : 0;
    char payload[160];

    for (int r = 0; r < rows; r++) {
        int n = snprintf(payload, sizeof(payload), "{\"boot_id\":\"%s\",\"seq\":%s}",
                         PQgetvalue(acks, r, 1), PQgetvalue(acks, r, 2));
        ack_node(ing, b, items, PQgetvalue(acks, r, 0), payload, n, sizeof(payload));
    }
    if (rows > 0) {
        unsigned long long stored = strtoull(PQgetvalue(acks, 0, 3), NULL, 10);
        atomic_fetch_add(&ing->stored, stored);
        atomic_fetch_add(&ing->duplicates, b->nrecs - stored);
    }
}

/* Publish an ack per final bundle status that names its assignment (gen) and per final
 * command result: the agent keeps them and sends them again until this ack comes, since paho
 * acknowledged the message to the broker when it was read, before this commit
 * (docs/internals/ingest.md). */
static void send_final_acks(struct gf_ingest *ing, struct batch *b, struct item **items)
{
    char payload[96];
    size_t i;
    json_t *ev;

    json_array_foreach(b->bundles, i, ev) {
        const char *state = json_string_value(json_object_get(ev, "state"));
        const json_t *gen = json_object_get(ev, "gen");
        if (gen != NULL && (strcmp(state, "applied") == 0 || strcmp(state, "failed") == 0 ||
                            strcmp(state, "rolled_back") == 0)) {
            int n = snprintf(payload, sizeof(payload), "{\"status_gen\":%lld,\"state\":\"%s\"}",
                             (long long)json_integer_value(gen), state);
            ack_node(ing, b, items, json_string_value(json_object_get(ev, "n")), payload, n,
                     sizeof(payload));
        }
    }
    json_array_foreach(b->cmdres, i, ev) {
        const char *id = json_string_value(json_object_get(ev, "id"));
        const char *status = json_string_value(json_object_get(ev, "status"));
        if (id != NULL && status != NULL && strcmp(status, "running") != 0) {
            int n = snprintf(payload, sizeof(payload), "{\"cmd_id\":\"%s\"}", id);
            ack_node(ing, b, items, json_string_value(json_object_get(ev, "n")), payload, n,
                     sizeof(payload));
        }
    }
}

static void batch_free(struct batch *b)
{
    json_decref(b->lock_ids);
    gf_buf_free(&b->recs);
    gf_free(b->scratch);
    json_decref(b->seen);
    json_decref(b->events);
    json_decref(b->bundles);
    json_decref(b->cmdres);
    json_decref(b->chunks);
    json_decref(b->node_conn);
}

static int batch_init(struct batch *b)
{
    b->lock_ids = json_array();
    gf_buf_init(&b->recs, (size_t)64 << 20);
    b->nrecs = 0;
    b->seen = json_array();
    b->events = json_array();
    b->bundles = json_array();
    b->cmdres = json_array();
    b->chunks = json_array();
    b->node_conn = json_object();
    b->scratch = gf_calloc(GF_LIMIT_HEALTH_RECORDS, sizeof(*b->scratch));
    return b->lock_ids && b->seen && b->scratch && b->events && b->bundles && b->cmdres &&
           b->chunks && b->node_conn;
}

/* Take up to max items off the queue, after give_way waited for the first (a lane has one
 * writer: nothing else takes them meanwhile). NULL when stopping and empty. */
static struct item *take(struct lane *ln, size_t max, size_t *n)
{
    struct item *first, *last;

    pthread_mutex_lock(&ln->mu);
    first = ln->head;
    last = first;
    *n = first ? 1 : 0;
    size_t bytes = first ? first->len : 0;
    while (last != NULL && last->next != NULL && *n < max &&
           bytes + last->next->len <= GF_INGEST_BATCH_BYTES) {
        last = last->next;
        bytes += last->len;
        (*n)++;
    }
    if (first != NULL) {
        ln->head = last->next;
        if (ln->head == NULL) {
            ln->tail = NULL;
        }
        last->next = NULL;
        ln->depth -= *n;
        ln->bytes -= bytes;
    }
    pthread_mutex_unlock(&ln->mu);
    return first;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait for the lane's first message, then give way while o.hold says so (ingest.h): at
 * most GF_INGEST_HOLD_MS, and not once the lane is half full or stopping. The batch taken
 * afterwards is larger, so the wait costs the database less than it saves the
 * notifications. */
static void give_way(struct gf_ingest *ing, struct lane *ln)
{
    int64_t t0, until;
    int held = 0;

    pthread_mutex_lock(&ln->mu);
    while (ln->head == NULL && !ln->stopping) {
        pthread_cond_wait(&ln->cv, &ln->mu);
    }
    pthread_mutex_unlock(&ln->mu);
    t0 = gf_time_mono_us();
    until = t0 + GF_INGEST_HOLD_MS * 1000LL;
    while (ing->o.hold != NULL && ing->o.hold(ing->o.hold_arg) && gf_time_mono_us() < until) {
        pthread_mutex_lock(&ln->mu);
        int go = ln->stopping || ln->depth >= ing->o.queue_max / (size_t)ing->nlanes / 2 ||
                 ln->bytes >= ing->o.queue_bytes / (size_t)ing->nlanes / 2;
        pthread_mutex_unlock(&ln->mu);
        if (go) {
            break;
        }
        sleep_ms(GF_INGEST_HOLD_STEP_MS);
        held = 1;
    }
    if (held) {
        atomic_fetch_add(&ing->held_us, (unsigned long long)(gf_time_mono_us() - t0));
    }
}

/* glibc's malloc_trim, except under a sanitizer that replaces malloc (ASan, TSan): there
 * glibc's allocator is not the one in use, and its trim walked arenas the process never
 * set up (a writer thread died with SEGV in mtrim, once in some hundreds of ASan runs). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GF_MALLOC_REPLACED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GF_MALLOC_REPLACED 1
#endif
#endif
static void trim_heap(void)
{
#ifndef GF_MALLOC_REPLACED
    malloc_trim(0);
#endif
}

static void *writer(void *arg)
{
    struct lane *lane = arg;
    struct gf_ingest *ing = lane->ing;
    struct item **items = gf_calloc(ing->o.batch_max, sizeof(*items));

    if (items == NULL) {
        gf_log_error("writer has no memory", "batch_max=%zu", ing->o.batch_max);
        return NULL;
    }
    for (;;) {
        size_t n;
        give_way(ing, lane);
        struct item *list = take(lane, ing->o.batch_max, &n);
        struct batch b;
        long backoff = 100;

        if (list == NULL) {
            break;
        }
        for (size_t i = 0; i < n; i++, list = list->next) {
            items[i] = list;
        }
        while (!batch_init(&b)) {
            batch_free(&b);
            sleep_ms(backoff);
        }
        for (size_t i = 0; i < n; i++) {
            add_item(ing, &b, items[i], i);
        }
        if (b.nrecs > 0 && gf_buf_puts(&b.recs, "]") != GF_OK) {
            b.nrecs = 0; /* no memory for one byte: the agents resend */
        }
        /* Retry until committed: the batch is already off the broker. */
        for (;;) {
            struct gf_dbconn *db = NULL;
            PGresult *acks = NULL;
            int64_t t0 = gf_time_mono_us();
            enum gf_err err = GF_OK;
            if (json_array_size(b.lock_ids) > 0) {
                err = gf_db_acquire(ing->app->db, &db);
                if (err == GF_OK) {
                    err = run_batch(ing, db, &b, &acks);
                    gf_db_release(ing->app->db, db);
                }
            }
            if (err == GF_OK) {
                int64_t took = gf_time_mono_us() - t0;
                atomic_fetch_add(&ing->commit_us_total, (unsigned long long)took);
                atomic_fetch_add(&ing->batches, 1);
                gf_log_debug("batch committed", "messages=%zu ms=%lld", n,
                             (long long)took / 1000);
                send_acks(ing, &b, items, acks);
                send_final_acks(ing, &b, items);
                PQclear(acks);
                break;
            }
            atomic_fetch_add(&ing->db_errors, 1);
            atomic_store(&ing->last_db_error_us, gf_time_now_us());
            gf_log_warn("batch not committed, retrying", "messages=%zu error=%s backoff_ms=%ld",
                        n, gf_err_str(err), backoff);
            sleep_ms(backoff);
            backoff = backoff < 5000 ? backoff * 2 : 5000;
        }
        batch_free(&b);
        for (size_t i = 0; i < n; i++) {
            item_free(items[i]);
        }
        /* A batch's parsed JSON is large and short-lived: give the pages back, so resident
         * memory follows the work in flight, not the largest batch ever seen. */
        trim_heap();
    }
    gf_free(items);
    return NULL;
}

enum gf_err gf_ingest_start(struct gf_app *app, const struct gf_ingest_opts *opts,
                            struct gf_ingest **out)
{
    struct gf_ingest *ing = gf_calloc(1, sizeof(*ing));

    *out = NULL;
    if (ing == NULL) {
        return GF_ERR_NOMEM;
    }
    ing->app = app;
    ing->o = *opts;
    if (ing->o.writers < 1) {
        ing->o.writers = 1;
    }
    if (ing->o.writers > GF_INGEST_WRITERS_MAX) {
        ing->o.writers = GF_INGEST_WRITERS_MAX;
    }
    for (int i = 0; i < ing->o.writers; i++) {
        struct lane *ln = &ing->lanes[i];
        ln->ing = ing;
        pthread_mutex_init(&ln->mu, NULL);
        pthread_cond_init(&ln->cv, NULL);
        if (pthread_create(&ln->thread, NULL, writer, ln) != 0) {
            pthread_cond_destroy(&ln->cv);
            pthread_mutex_destroy(&ln->mu);
            gf_ingest_stop(ing);
            return GF_ERR_IO;
        }
        ing->nlanes++;
    }
    *out = ing;
    return GF_OK;
}

static size_t depth_of(struct gf_ingest *ing)
{
    size_t depth = 0;

    for (int i = 0; i < ing->nlanes; i++) {
        pthread_mutex_lock(&ing->lanes[i].mu);
        depth += ing->lanes[i].depth;
        pthread_mutex_unlock(&ing->lanes[i].mu);
    }
    return depth;
}

void gf_ingest_stop(struct gf_ingest *ing)
{
    if (ing == NULL) {
        return;
    }
    for (int i = 0; i < 50 && depth_of(ing) > 0; i++) {
        sleep_ms(100);
    }
    for (int i = 0; i < ing->nlanes; i++) {
        struct lane *ln = &ing->lanes[i];
        pthread_mutex_lock(&ln->mu);
        ln->stopping = 1;
        pthread_cond_broadcast(&ln->cv);

        pthread_mutex_unlock(&ln->mu);
        pthread_join(ln->thread, NULL);
        while (ln->head != NULL) { /* not acknowledged: the agents resend these */
            struct item *it = ln->head;
            ln->head = it->next;
            item_free(it);
        }
        pthread_cond_destroy(&ln->cv);
        pthread_mutex_destroy(&ln->mu);
    }
    gf_free(ing);
}

int gf_ingest_healthy(struct gf_ingest *ing)
{
    return depth_of(ing) < ing->o.batch_max &&
           gf_time_now_us() - atomic_load(&ing->last_db_error_us) > 10LL * 1000000;
}

enum gf_err gf_ingest_metrics(struct gf_ingest *ing, struct gf_buf *o)
{
    size_t depth = depth_of(ing);
    enum gf_err err = gf_buf_printf(
        o,
        "# HELP gf_mqtt_received_total Agent messages taken off the broker.\n"
        "# TYPE gf_mqtt_received_total counter\ngf_mqtt_received_total %llu\n"
        "# HELP gf_ingest_samples_stored_total Health samples written to PostgreSQL.\n"
        "# TYPE gf_ingest_samples_stored_total counter\ngf_ingest_samples_stored_total %llu\n"
        "# HELP gf_ingest_samples_duplicate_total Health samples already stored (resends).\n"
        "# TYPE gf_ingest_samples_duplicate_total counter\n"
        "gf_ingest_samples_duplicate_total %llu\n"
        "# HELP gf_ingest_acks_total Acks published after commit.\n"
        "# TYPE gf_ingest_acks_total counter\ngf_ingest_acks_total %llu\n"
        "# HELP gf_ingest_ack_failures_total Acks that could not be published (agents resend).\n"
        "# TYPE gf_ingest_ack_failures_total counter\ngf_ingest_ack_failures_total %llu\n"
        "# HELP gf_ingest_batches_total Committed ingest transactions.\n"
        "# TYPE gf_ingest_batches_total counter\ngf_ingest_batches_total %llu\n"
        "# HELP gf_ingest_commit_seconds_total Time spent in ingest transactions.\n"
        "# TYPE gf_ingest_commit_seconds_total counter\ngf_ingest_commit_seconds_total %.6f\n"
        "# HELP gf_ingest_db_errors_total Ingest transactions that failed (and were retried).\n"
        "# TYPE gf_ingest_db_errors_total counter\ngf_ingest_db_errors_total %llu\n"
        "# HELP gf_ingest_queue_full_total Health messages dropped unacknowledged (queue full).\n"
        "# TYPE gf_ingest_queue_full_total counter\ngf_ingest_queue_full_total %llu\n"
        "# HELP gf_ingest_held_seconds_total Time writers gave way to the desired outbox (sum).\n"
        "# TYPE gf_ingest_held_seconds_total counter\ngf_ingest_held_seconds_total %.3f\n"
        "# HELP gf_ingest_queue_depth Messages waiting for a writer.\n"
        "# TYPE gf_ingest_queue_depth gauge\ngf_ingest_queue_depth %zu\n"
        "# HELP gf_mqtt_dropped_total Agent messages or records dropped, by reason.\n"
        "# TYPE gf_mqtt_dropped_total counter\n",
        (unsigned long long)atomic_load(&ing->received),
        (unsigned long long)atomic_load(&ing->stored),
        (unsigned long long)atomic_load(&ing->duplicates),
        (unsigned long long)atomic_load(&ing->acks),
        (unsigned long long)atomic_load(&ing->ack_failures),
        (unsigned long long)atomic_load(&ing->batches),
        (double)atomic_load(&ing->commit_us_total) / 1e6,
        (unsigned long long)atomic_load(&ing->db_errors),
        (unsigned long long)atomic_load(&ing->full), (double)atomic_load(&ing->held_us) / 1e6,
        depth);
    for (int r = 0; err == GF_OK && r < D__COUNT; r++) {
        err = gf_buf_printf(o, "gf_mqtt_dropped_total{reason=\"%s\"} %llu\n", drop_names[r],
                            (unsigned long long)atomic_load(&ing->dropped[r]));
    }
    return err;
}
