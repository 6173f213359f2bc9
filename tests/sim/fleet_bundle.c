/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet_bundle.c - how a fleet-mode node answers a `desired` message (see fleet.h): by
 * its behaviour, each step a QoS 1 `bundle/status` with agent/bundle/bundler.c's JSON
 * (bundle_id, name, version, manifest_sha256, state, reason?, at), --step-ms apart (the
 * node's timer, no sleeping):
 *   ok         downloading, verifying, applying, applied (the sha is then installed)
 *   fail       downloading, failed "health_check"
 *   rollback   downloading, applying, rolled_back "health_check"
 *   fail-once  like fail for the first desired of a manifest; like ok when that manifest
 *              comes again with a higher gen (a server retry); remembers the last one
 *   hang       downloading, then nothing
 *   offline    drop the TCP connection at once, without PUBACK or DISCONNECT (the broker
 *              publishes the Will); the node stays down until `online` and comes back as ok
 *   ignore     nothing at all
 * Before its behaviour (except offline and ignore), a node whose installed manifest is
 * the desired one answers `applied` at once, as the agent does on redelivery. A newer
 * desired replaces the plan being played; a lost connection abandons it (the retained
 * desired starts it again). --final-only publishes only each plan's last step, at the
 * time it would have come. An empty desired (cleared) is counted and otherwise ignored;
 * a malformed one too (stderr). A desired with retain 0 whose gen the node already had
 * with retain 0 is a duplicate notification and counted as such.
 * Statuses carry the desired's gen. As the agent does, a node keeps its final status
 * (applied, failed, rolled_back) until the server's `ack` {status_gen, state} says it was
 * committed, and sends it again after --resend-ms, doubling up to 5 min: the server's client
 * acknowledges a message to the broker before storing it, so one that dies in between
 * loses it (docs/mqtt.md, `ack`). A newer desired or a lost connection ends the wait: the
 * node answers the (redelivered) desired again.
 */
#include "fleet.h"

#include "json.h"
#include "timefmt.h"

#include <stdio.h>
#include <string.h>

#define RESEND_MAX_MS (5 * 60 * 1000) /* the agent's cap (agent/bundle/bundler.c) */

static const char *const beh_names[GF_FLEET_NBEH] = {"ok",   "fail",    "rollback", "fail-once",
                                                     "hang", "offline", "ignore"};
static const char *const state_names[GF_FLEET_NSTATES] = {
    "downloading", "verifying", "applying", "applied", "failed", "rolled_back"};

struct step {
    int state;
    const char *reason;
};

static const struct step p_ok[] = {{GF_FLEET_DOWNLOADING, NULL},
                                   {GF_FLEET_VERIFYING, NULL},
                                   {GF_FLEET_APPLYING, NULL},
                                   {GF_FLEET_APPLIED, NULL}};
static const struct step p_fail[] = {{GF_FLEET_DOWNLOADING, NULL},
                                     {GF_FLEET_FAILED, "health_check"}};
static const struct step p_rollback[] = {{GF_FLEET_DOWNLOADING, NULL},
                                         {GF_FLEET_APPLYING, NULL},
                                         {GF_FLEET_ROLLED_BACK, "health_check"}};
static const struct step p_hang[] = {{GF_FLEET_DOWNLOADING, NULL}};
static const struct step p_again[] = {{GF_FLEET_APPLIED, NULL}};

enum { P_OK, P_FAIL, P_ROLLBACK, P_HANG, P_AGAIN };

static const struct {
    const struct step *steps;
    int n;
} plans[] = {{p_ok, 4}, {p_fail, 2}, {p_rollback, 3}, {p_hang, 1}, {p_again, 1}};

int gf_fleet_behaviour(const char *name)
{
    for (int i = 0; i < GF_FLEET_NBEH; i++) {
        if (strcmp(name, beh_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *gf_fleet_behaviour_name(int beh)
{
    return beh >= 0 && beh < GF_FLEET_NBEH ? beh_names[beh] : "?";
}

const char *gf_fleet_state_name(int state)
{
    return state >= 0 && state < GF_FLEET_NSTATES ? state_names[state] : "?";
}

/* ------------------------------------------------------------------ steps */

/* Publish one status of the node's current desired; 0 when queued. */
static int send_status(struct gf_fleet *f, struct gf_sim_node *n, int state, const char *why)
{
    const struct gf_fleet_bundle *b = &f->fn[n->idx].cur;
    char topic[96], body[512], at[40], reason[48] = "", gen[32] = "";

    gf_time_format_rfc3339(gf_time_now_us(), at, sizeof(at));
    if (why != NULL) {
        snprintf(reason, sizeof(reason), ",\"reason\":\"%s\"", why);
    }
    if (b->gen > 0) {
        snprintf(gen, sizeof(gen), ",\"gen\":%lld", (long long)b->gen);
    }
    int len = snprintf(body, sizeof(body),
                       "{\"bundle_id\":\"%s\",\"name\":\"%s\",\"version\":%llu,"
                       "\"manifest_sha256\":\"%s\",\"state\":\"%s\"%s%s,\"at\":\"%s\"}",
                       b->bundle_id, b->name, (unsigned long long)b->version, b->sha256,
                       state_names[state], reason, gen, at);
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/bundle/status", n->id);
    if (gf_sim_publish(f->sim, n, topic, body, (size_t)len, 1, 0) != 0) {
        return -1;
    }
    gf_fleet_ev_status(f, n, b, state, why);
    return 0;
}

static int is_final(int state)
{
    return state == GF_FLEET_APPLIED || state == GF_FLEET_FAILED || state == GF_FLEET_ROLLED_BACK;
}

/* A final status just sent: kept until the server acknowledges it (with a gen only, as the
 * server acknowledges only those). */
static void keep_final(struct gf_fleet *f, struct gf_sim_node *n, const struct step *st)
{
    struct gf_fleet_node *fn = &f->fn[n->idx];

    if (!is_final(st->state) || fn->cur.gen <= 0 || f->o.resend_ms <= 0) {
        return;
    }
    fn->fin_state = st->state;
    fn->fin_reason = st->reason;
    fn->fin_wait_ms = f->o.resend_ms;
    gf_fleet_arm(f, n->idx, GF_FLEET_T_RESEND, gf_sim_now_us() + fn->fin_wait_ms * 1000);
}

void gf_fleet_resend(struct gf_fleet *f, struct gf_sim_node *n)
{
    struct gf_fleet_node *fn = &f->fn[n->idx];

    if (fn->fin_state < 0) {
        return;
    }
    if (send_status(f, n, fn->fin_state, fn->fin_reason) == 0) {
        f->statuses_resent++;
        gf_sim_flush(f->sim, n);
    }
    fn->fin_wait_ms = fn->fin_wait_ms * 2 > RESEND_MAX_MS ? RESEND_MAX_MS : fn->fin_wait_ms * 2;
    gf_fleet_arm(f, n->idx, GF_FLEET_T_RESEND, gf_sim_now_us() + fn->fin_wait_ms * 1000);
}

void gf_fleet_status_ack(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_sim_msg *m)
{
    struct gf_fleet_node *fn = &f->fn[n->idx];
    json_t *o = NULL;

    if (fn->fin_state < 0 ||
        gf_json_parse_object((const char *)m->payload, m->plen, &o, NULL) != 0) {
        return;
    }
    const char *state = gf_json_str(o, "state");
    if (gf_json_int(o, "status_gen", -1) == fn->cur.gen && state != NULL &&
        strcmp(state, state_names[fn->fin_state]) == 0) {
        fn->fin_state = -1;
        f->status_acks++;
        if (fn->timer == GF_FLEET_T_RESEND) {
            gf_fleet_disarm(f, n->idx);
        }
    }
    json_decref(o);
}

/* Play the node's plan from its next step: publish, then wait step_ms, until the end. */
void gf_fleet_step(struct gf_fleet *f, struct gf_sim_node *n)
{
    struct gf_fleet_node *fn = &f->fn[n->idx];

    while (fn->plan >= 0 && fn->step < plans[fn->plan].n) {
        const struct step *st = &plans[fn->plan].steps[fn->step++];
        int last = fn->step == plans[fn->plan].n;
        if ((last || !f->o.final_only) && send_status(f, n, st->state, st->reason) == 0) {
            f->statuses[st->state]++;
            if (last) {
                keep_final(f, n, st);
            }
        }
        if (last) {
            if (st->state == GF_FLEET_APPLIED) {
                fn->installed = fn->cur;
                fn->have_installed = 1;
                f->last_applied_ms = gf_sim_wall_ms();
            }
            fn->plan = -1;
        } else if (f->o.step_ms > 0) {
            gf_fleet_arm(f, n->idx, GF_FLEET_T_STEP, gf_sim_now_us() + f->o.step_ms * 1000);
            break;
        }
    }
    gf_sim_flush(f->sim, n);
}

/* Which plan answers desired b, by the node's behaviour (not offline or ignore). */
static int choose_plan(struct gf_fleet_node *fn, const struct gf_fleet_bundle *b)
{
    if (fn->have_installed && strcmp(fn->installed.sha256, b->sha256) == 0) {
        return P_AGAIN;
    }
    switch (fn->beh) {
    case GF_FLEET_FAIL:
        return P_FAIL;
    case GF_FLEET_ROLLBACK:
        return P_ROLLBACK;
    case GF_FLEET_HANG:
        return P_HANG;
    case GF_FLEET_FAIL_ONCE:
        if (strcmp(fn->failed_sha256, b->sha256) == 0) {
            return b->gen > fn->failed_gen ? P_OK : P_FAIL;
        }
        snprintf(fn->failed_sha256, sizeof(fn->failed_sha256), "%s", b->sha256);
        fn->failed_gen = b->gen;
        return P_FAIL;
    default:
        return P_OK;
    }
}

/* Act on a desired message. 1 when the node dropped its connection. */
static int act(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_fleet_bundle *b)
{
    struct gf_fleet_node *fn = &f->fn[n->idx];

    if (fn->beh == GF_FLEET_OFFLINE) {
        fn->beh = GF_FLEET_OK; /* one-shot: it comes back as ok unless told otherwise */
        gf_fleet_take_offline(f, n->idx, "behaviour");
        return 1;
    }
    if (fn->beh == GF_FLEET_IGNORE) {
        return 0;
    }
    gf_fleet_disarm(f, n->idx); /* the newest desired wins */
    fn->fin_state = -1;
    fn->cur = *b;
    fn->plan = choose_plan(fn, b);
    fn->step = 0;
    gf_fleet_step(f, n);
    return 0;
}

static int hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64) {
        return 0;
    }
    return strspn(s, "0123456789abcdef") == 64;
}

/* The server's desired JSON into b; unknown members are ignored (docs/mqtt.md). 0 or -1. */
static int parse_desired(const unsigned char *p, size_t len, struct gf_fleet_bundle *b)
{
    json_t *o = NULL;
    int rc = -1;

    if (gf_json_parse_object((const char *)p, len, &o, NULL) != 0) {
        goto out;
    }
    const char *id = gf_json_str(o, "bundle_id"), *name = gf_json_str(o, "name");
    const char *sha = gf_json_str(o, "manifest_sha256");
    long long version = gf_json_int(o, "version", -1), gen = gf_json_int(o, "gen", -1);
    if (id == NULL || strlen(id) != 36 || strspn(id, "0123456789abcdef-") != 36 || name == NULL ||
        name[0] == '\0' || strlen(name) >= sizeof(b->name) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(name) || !hex64(sha) ||
        version < 0 || gen < 0) {
        goto out;
    }
    snprintf(b->bundle_id, sizeof(b->bundle_id), "%s", id);
    snprintf(b->name, sizeof(b->name), "%s", name);
    snprintf(b->sha256, sizeof(b->sha256), "%s", sha);
    b->version = (uint64_t)version;
    b->gen = gen;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* A live (retain=0) gen seen before on this node; remembers it otherwise. */
static int seen_live(struct gf_fleet_node *fn, int64_t gen)
{
    unsigned have = fn->live_n < GF_FLEET_LIVE_GENS ? fn->live_n : GF_FLEET_LIVE_GENS;

    for (unsigned i = 0; i < have; i++) {
        if (fn->live_gens[i] == gen) {
            return 1;
        }
    }
    fn->live_gens[fn->live_n % GF_FLEET_LIVE_GENS] = gen;
    fn->live_n++;
    return 0;
}

int gf_fleet_desired(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_sim_msg *m)
{
    struct gf_fleet_bundle b;
    int64_t t = gf_sim_wall_ms();

    if (m->plen == 0) {
        f->desired_cleared++;
        gf_fleet_ev_cleared(f, n, m->retain, t);
        return 0;
    }
    if (parse_desired(m->payload, m->plen, &b) != 0) {
        f->desired_malformed++;
        fprintf(stderr, "fleetsim: %s malformed desired ignored (%zu bytes)\n", n->id, m->plen);
        return 0;
    }
    f->desired_received++;
    f->desired_retained += m->retain ? 1u : 0u;
    if (f->first_desired_ms == 0) {
        f->first_desired_ms = t;
    }
    f->last_desired_ms = t;
    int dup = !m->retain && seen_live(&f->fn[n->idx], b.gen);
    if (dup) {
        f->desired_duplicates++;
    }
    gf_fleet_ev_desired(f, n, &b, m->retain, dup, t);
    return act(f, n, &b);
}
