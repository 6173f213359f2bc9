/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet_cmd.c - how a fleet-mode node answers remote commands (see fleet.h; the contract is
 * docs/mqtt.md's `cmd/req` and `cmd/res`, as agent/cmd/ plays it). Each node subscribes to
 * its `cmd/req` (QoS 1) unless --no-commands; a request is an MQTT 5 PUBLISH whose payload
 * is {"id","name","args"?,"timeout_ms"?} and whose properties name the Response Topic and
 * carry the command id as Correlation Data. Every answer goes to that Response Topic (or to
 * `cmd/res` under the node's own root when there is none), QoS 1, with the Correlation Data
 * echoed, by name:
 *   ping   `running`, then `succeeded` with {"result":{"pong":true}} at once
 *   sleep  `running`, then `succeeded` after args.ms milliseconds (a timer, never blocking
 *          the loop), or `timed_out` at timeout_ms when args.ms is longer
 *   other  `rejected` with error "unknown command" (not started: no `running`, as the agent)
 * A sleep without a whole args.ms in 0..3600000 is rejected too. An id the node has answered
 * recently (a ring of GF_FLEET_CMD_SEEN hashed ids per node: QoS 1 redelivery, a server
 * retry) is counted and not answered again. A request that is not such a JSON object with a
 * usable id is counted as malformed and not answered.
 *
 * Sleeps in play live in one fixed pool for the whole run (CMD_POOL), each with its own
 * timer; when the pool is full a sleep is rejected "busy", as an agent with every slot taken
 * does. A sleep whose node is not connected when its time comes is dropped (counted): the
 * server's deadline ends that command. Message expiry needs nothing here: the broker does
 * not forward a request past it; the forwarded interval is shown in the `command` event.
 */
#include "fleet.h"

#include "json.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_POOL 4096            /* sleeps in play at once, all nodes together */
#define CMD_ID_MAX 64            /* as the agent: 1-64 of A-Z a-z 0-9 - */
#define CMD_NAME_MAX 64          /* 1-64 of a-z 0-9 . _ : - */
#define CMD_TOPIC_MAX 192        /* a response topic; longer ones fall back to the node's */
#define CMD_CORR_MAX 128         /* correlation data echoed; longer is not echoed */
#define CMD_SLEEP_MAX_MS 3600000 /* args.ms of sleep */
#define CMD_TIMEOUT_DEFAULT_MS 30000
#define CMD_RESULT_BYTES 768 /* one result message */

/* Where and how an answer goes: the request's id, response topic and correlation data. */
struct reply {
    char id[CMD_ID_MAX + 1];
    char topic[CMD_TOPIC_MAX];
    unsigned char corr[CMD_CORR_MAX];
    size_t corr_len;
    int has_corr;
};

/* A sleep in play. */
struct play {
    int node; /* -1: free */
    struct reply r;
    long ms;       /* what it slept when it ends */
    int timed_out; /* ends as timed_out (args.ms > timeout_ms) */
    int64_t start_us;
};

struct gf_fleet_cmds {
    struct play plays[CMD_POOL];
    int free_slots[CMD_POOL];
    int nfree;
    struct gf_sim_timers *timers; /* one per play */
};

int gf_fleet_cmd_init(struct gf_fleet *f)
{
    struct gf_fleet_cmds *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->timers = gf_sim_timers_new(CMD_POOL)) == NULL) {
        free(c);
        fprintf(stderr, "fleetsim: out of memory\n");
        return -1;
    }
    for (int i = 0; i < CMD_POOL; i++) {
        c->plays[i].node = -1;
        c->free_slots[i] = CMD_POOL - 1 - i;
    }
    c->nfree = CMD_POOL;
    f->cmds = c;
    return 0;
}

void gf_fleet_cmd_free(struct gf_fleet *f)
{
    if (f->cmds != NULL) {
        gf_sim_timers_free(f->cmds->timers);
        free(f->cmds);
        f->cmds = NULL;
    }
}

int gf_fleet_cmd_pending(const struct gf_fleet *f)
{
    return f->cmds != NULL ? CMD_POOL - f->cmds->nfree : 0;
}

/* ------------------------------------------------------------------ answers */

/* Publish one answer (running or final) as the request asked. */
static void answer(struct gf_fleet *f, struct gf_sim_node *n, const struct reply *r,
                   const char *body, int len, const char *status)
{
    if (len < 0 || len >= CMD_RESULT_BYTES) {
        return;
    }
    if (gf_sim_publish_corr(f->sim, n, r->topic, body, (size_t)len, 1, r->has_corr ? r->corr : NULL,
                            r->corr_len) != 0) {
        f->cmd_dropped++;
        return;
    }
    if (strcmp(status, "running") != 0) {
        f->cmd_answered++;
    }
    gf_fleet_ev_result(f, n, r->id, status);
}

static void answer_running(struct gf_fleet *f, struct gf_sim_node *n, const struct reply *r)
{
    char body[CMD_RESULT_BYTES], at[40];

    gf_time_format_rfc3339(gf_time_now_us(), at, sizeof(at));
    int len = snprintf(body, sizeof(body),
                       "{\"id\":\"%s\",\"status\":\"running\",\"started_at\":\"%s\"}", r->id, at);
    answer(f, n, r, body, len, "running");
}

/* The final result: status, exit code (< 0: null), duration, result object or error text
 * (both plain ASCII without quotes, made here). */
static void answer_final(struct gf_fleet *f, struct gf_sim_node *n, const struct reply *r,
                         const char *status, int exit_code, long long duration_ms,
                         const char *result, const char *error)
{
    char body[CMD_RESULT_BYTES], code[16] = "null", err[128] = "null", res[160] = "";

    if (exit_code >= 0) {
        snprintf(code, sizeof(code), "%d", exit_code);
    }
    if (error != NULL) {
        snprintf(err, sizeof(err), "\"%s\"", error);
    }
    if (result != NULL) {
        snprintf(res, sizeof(res), ",\"result\":%s", result);
    }
    int len = snprintf(body, sizeof(body),
                       "{\"id\":\"%s\",\"status\":\"%s\",\"exit_code\":%s,\"signal\":null,"
                       "\"output\":\"\",\"output_truncated\":false,\"duration_ms\":%lld,"
                       "\"error\":%s%s}",
                       r->id, status, code, duration_ms, err, res);
    answer(f, n, r, body, len, status);
}

/* ------------------------------------------------------------------ sleep */

static void start_sleep(struct gf_fleet *f, struct gf_sim_node *n, const struct reply *r,
                        const json_t *args, long long timeout_ms)
{
    struct gf_fleet_cmds *c = f->cmds;
    const json_t *ms = json_object_get(args, "ms");

    if (!json_is_integer(ms) || json_integer_value(ms) < 0 ||
        json_integer_value(ms) > CMD_SLEEP_MAX_MS) {
        answer_final(f, n, r, "rejected", -1, 0, NULL,
                     "args.ms must be a whole number of milliseconds from 0 to 3600000");
        return;
    }
    if (c->nfree == 0) {
        answer_final(f, n, r, "rejected", -1, 0, NULL, "busy: too many commands running");
        return;
    }
    int slot = c->free_slots[--c->nfree];
    struct play *p = &c->plays[slot];
    long long want = json_integer_value(ms);
    p->node = n->idx;
    p->r = *r;
    p->timed_out = want > timeout_ms;
    p->ms = (long)(p->timed_out ? timeout_ms : want);
    p->start_us = gf_sim_now_us();
    answer_running(f, n, r);
    gf_sim_timers_set(c->timers, slot, p->start_us + (int64_t)p->ms * 1000);
}

int64_t gf_fleet_cmd_next(const struct gf_fleet *f)
{
    return f->cmds != NULL ? gf_sim_timers_next(f->cmds->timers) : INT64_MAX;
}

void gf_fleet_cmd_tick(struct gf_fleet *f, int64_t now_us)
{
    struct gf_fleet_cmds *c = f->cmds;

    for (int slot; c != NULL && (slot = gf_sim_timers_pop(c->timers, now_us)) >= 0;) {
        struct play *p = &c->plays[slot];
        struct gf_sim_node *n = &f->sim->nodes[p->node];
        if (n->st == GF_SIM_READY) {
            long long took = (now_us - p->start_us) / 1000;
            if (p->timed_out) {
                answer_final(f, n, &p->r, "timed_out", -1, took, NULL, "timed out");
            } else {
                char res[48];
                snprintf(res, sizeof(res), "{\"slept_ms\":%ld}", p->ms);
                answer_final(f, n, &p->r, "succeeded", 0, took, res, NULL);
            }
            gf_sim_flush(f->sim, n);
        } else {
            f->cmd_dropped++;
        }
        p->node = -1;
        c->free_slots[c->nfree++] = slot;
    }
}

/* ------------------------------------------------------------------ requests */

static int charset(const char *s, size_t max, const char *extra, int upper)
{
    size_t len = strlen(s);

    if (len == 0 || len > max) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              (upper && ch >= 'A' && ch <= 'Z') || (ch != '\0' && strchr(extra, ch) != NULL))) {
            return 0;
        }
    }
    return 1;
}

/* The request's reply route: its Response Topic when usable, else cmd/res under the
 * node's root; its Correlation Data when it fits. */
static void route(const struct gf_sim_node *n, const struct gf_sim_msg *m, struct reply *r)
{
    if (m->resp_topic != NULL && m->resp_len > 0 && m->resp_len < sizeof(r->topic) &&
        memchr(m->resp_topic, '\0', m->resp_len) == NULL &&
        memchr(m->resp_topic, '+', m->resp_len) == NULL &&
        memchr(m->resp_topic, '#', m->resp_len) == NULL) {
        memcpy(r->topic, m->resp_topic, m->resp_len);
        r->topic[m->resp_len] = '\0';
    } else {
        snprintf(r->topic, sizeof(r->topic), "gf/v1/n/%s/cmd/res", n->id);
    }
    r->has_corr = m->corr != NULL && m->corr_len <= sizeof(r->corr);
    r->corr_len = r->has_corr ? m->corr_len : 0;
    if (r->has_corr && m->corr_len > 0) {
        memcpy(r->corr, m->corr, m->corr_len);
    }
}

/* An id answered recently by this node; remembers it otherwise. */
static int seen_id(struct gf_fleet_node *fn, const char *id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    unsigned have = fn->cmd_seen_n < GF_FLEET_CMD_SEEN ? fn->cmd_seen_n : GF_FLEET_CMD_SEEN;

    for (const char *p = id; *p; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    for (unsigned i = 0; i < have; i++) {
        if (fn->cmd_seen[i] == h) {
            return 1;
        }
    }
    fn->cmd_seen[fn->cmd_seen_n % GF_FLEET_CMD_SEEN] = h;
    fn->cmd_seen_n++;
    return 0;
}

void gf_fleet_cmd_req(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_sim_msg *m)
{
    struct reply r;
    json_t *o = NULL;

    if (gf_json_parse_object((const char *)m->payload, m->plen, &o, NULL) != 0) {
        goto bad;
    }
    const char *id = gf_json_str(o, "id"), *name = gf_json_str(o, "name");
    const json_t *args = json_object_get(o, "args");
    long long timeout_ms = gf_json_int(o, "timeout_ms", CMD_TIMEOUT_DEFAULT_MS);
    if (id == NULL || !charset(id, CMD_ID_MAX, "-", 1) || name == NULL ||
        !charset(name, CMD_NAME_MAX, "._:-", 0) || (args != NULL && !json_is_object(args)) ||
        timeout_ms < 1) {
        goto bad;
    }
    snprintf(r.id, sizeof(r.id), "%s", id);
    route(n, m, &r);
    f->cmd_received++;
    int dup = seen_id(&f->fn[n->idx], id);
    int corr_ok = r.has_corr && r.corr_len == strlen(id) && memcmp(r.corr, id, r.corr_len) == 0;
    gf_fleet_ev_command(f, n, id, name, m, corr_ok, dup);
    if (dup) {
        f->cmd_duplicates++;
    } else if (strcmp(name, "ping") == 0) {
        answer_running(f, n, &r);
        answer_final(f, n, &r, "succeeded", 0, 0, "{\"pong\":true}", NULL);
    } else if (strcmp(name, "sleep") == 0) {
        start_sleep(f, n, &r, args, timeout_ms);
    } else {
        answer_final(f, n, &r, "rejected", -1, 0, NULL, "unknown command");
    }
    gf_sim_flush(f->sim, n);
    json_decref(o);
    return;
bad:
    f->cmd_malformed++;
    fprintf(stderr, "fleetsim: %s malformed command request ignored (%zu bytes)\n", n->id, m->plen);
    json_decref(o);
}
