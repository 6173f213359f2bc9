/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet_mode.c - fleetsim --mode fleet (see fleet.h): the nodes' sessions and the run's
 * epoll loop. Every node is a virtual agent that plays the bundle protocol with a scripted
 * behaviour (fleet_bundle.c) and answers remote commands (fleet_cmd.c), so the server's
 * rollouts and commands can be tested and measured against thousands of stations from one
 * process.
 *
 * Sessions as agent/session.c has them: clean start, keep-alive 30 s (PINGREQ when idle),
 * the Will = retained `state` offline with reason "will" and the session number; on
 * CONNACK the node subscribes to its `desired` and its `cmd/req` (QoS 1; no `cmd/req` with
 * --no-commands), publishes the retained `state` online and a `birth` (boot id, session, a
 * minimal inventory, agent_version "fleetsim", applied_bundle). Session numbers start at
 * the run's wall-clock ms x 1000 and grow by one per connect, so they also grow across runs
 * (the server's late-Will rule). Without health (--interval-ms 0) the birth announces
 * health_interval 3600, so the server's overdue detector leaves silent nodes online; with
 * it, nodes send health as in ingest.
 *
 * A `desired` message goes to fleet_bundle.c, which answers it by the node's behaviour; a
 * `cmd/req` to fleet_cmd.c, which answers the command (its sleeps have timers of their own,
 * so the loop also wakes for those).
 *
 * Connects are paced (at most CONNECTING_MAX without CONNACK); a connection lost without
 * being asked is retried after about a second, a refused one after 5 s.
 */
#include "fleet.h"

#include "timefmt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define CONNECTING_MAX 256          /* connects in flight: the broker's accept backlog */
#define CONNECT_TIMEOUT_US 15000000 /* no CONNACK: drop and retry */
#define RETRY_LOST_US 1000000       /* after a lost connection (plus up to 1 s jitter) */
#define RETRY_REFUSED_US 5000000    /* after a refused CONNACK */
#define SWEEP_US 1000000            /* keep-alive check */
#define SHUTDOWN_US 3000000         /* longest wait for the last writes at the end */
#define NO_HEALTH_INTERVAL_S 3600   /* announced in birth when no health is sent */

static volatile sig_atomic_t stop_signal;

void gf_fleet_arm(struct gf_fleet *f, int idx, int kind, int64_t due_us)
{
    f->fn[idx].timer = kind;
    gf_sim_timers_set(f->timers, idx, due_us);
}

void gf_fleet_disarm(struct gf_fleet *f, int idx)
{
    f->fn[idx].timer = GF_FLEET_T_NONE;
    gf_sim_timers_cancel(f->timers, idx);
}

/* ------------------------------------------------------------------ sessions */

static void enqueue_connect(struct gf_fleet *f, int idx)
{
    if (f->fn[idx].queued) {
        return;
    }
    f->fn[idx].queued = 1;
    f->queue[(f->qhead + f->qlen) % f->sim->nnodes] = idx;
    f->qlen++;
}

static void start_connect(struct gf_fleet *f, int idx)
{
    struct gf_sim_node *n = &f->sim->nodes[idx];
    struct gf_fleet_node *fn = &f->fn[idx];
    char topic[96], will[192];

    fn->connects++;
    n->session = f->base_session + fn->connects;
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/state", n->id);
    int len = snprintf(will, sizeof(will),
                       "{\"state\":\"offline\",\"boot_id\":\"%s\",\"session\":%llu,"
                       "\"reason\":\"will\"}",
                       f->sim->boot, (unsigned long long)n->session);
    struct gf_sim_will w = {topic, will, (size_t)len};
    if (gf_sim_connect(f->sim, n, n->id, n->id, n->pw, &w) != 0) {
        fprintf(stderr, "fleetsim: %s cannot connect: %s\n", n->id, strerror(errno));
        gf_fleet_arm(f, idx, GF_FLEET_T_RETRY, gf_sim_now_us() + RETRY_REFUSED_US);
        return;
    }
    fn->connecting = 1;
    f->connecting++;
    f->connects++;
    gf_fleet_arm(f, idx, GF_FLEET_T_CONNECT, gf_sim_now_us() + CONNECT_TIMEOUT_US);
}

/* Start queued connects while fewer than CONNECTING_MAX wait for their CONNACK. */
static void pace_connects(struct gf_fleet *f)
{
    while (f->qlen > 0 && f->connecting < CONNECTING_MAX) {
        int idx = f->queue[f->qhead];
        f->qhead = (f->qhead + 1) % f->sim->nnodes;
        f->qlen--;
        f->fn[idx].queued = 0;
        enum gf_sim_state st = f->sim->nodes[idx].st;
        if (!f->fn[idx].down && (st == GF_SIM_DOWN || st == GF_SIM_DEAD)) {
            start_connect(f, idx);
        }
    }
}

static void end_connecting(struct gf_fleet *f, struct gf_fleet_node *fn)
{
    if (fn->connecting) {
        fn->connecting = 0;
        f->connecting--;
    }
}

static void send_birth(struct gf_fleet *f, struct gf_sim_node *n)
{
    const struct gf_fleet_node *fn = &f->fn[n->idx];
    const struct gf_fleet_bundle *in = &fn->installed;
    char topic[96], body[1024], clock[40], applied[320];
    long hi = f->sim->interval_ms > 0 ? f->sim->interval_ms / 1000 : NO_HEALTH_INTERVAL_S;

    gf_time_format_rfc3339(gf_time_now_us(), clock, sizeof(clock));
    if (fn->have_installed) {
        snprintf(applied, sizeof(applied),
                 "{\"bundle_id\":\"%s\",\"name\":\"%s\",\"version\":%llu,"
                 "\"manifest_sha256\":\"%s\"}",
                 in->bundle_id, in->name, (unsigned long long)in->version, in->sha256);
    } else {
        snprintf(applied, sizeof(applied), "null");
    }
    int len = snprintf(body, sizeof(body),
                       "{\"boot_id\":\"%s\",\"session\":%llu,\"agent_version\":\"fleetsim\","
                       "\"inventory\":{\"hostname\":\"sim-%.8s\",\"os\":\"fleetsim\","
                       "\"arch\":\"x86_64\"},\"clock\":\"%s\",\"health_interval\":%ld,"
                       "\"keepalive\":%d,\"applied_bundle\":%s}",
                       f->sim->boot, (unsigned long long)n->session, n->id, clock, hi > 0 ? hi : 1,
                       f->sim->keepalive, applied);
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/birth", n->id);
    gf_sim_publish(f->sim, n, topic, body, (size_t)len, 1, 0);
}

static void on_connack(struct gf_sim *s, struct gf_sim_node *n, int ok, int reason)
{
    struct gf_fleet *f = s->mode;
    struct gf_fleet_node *fn = &f->fn[n->idx];
    char topic[96], state[192];

    end_connecting(f, fn);
    gf_fleet_disarm(f, n->idx);
    if (!ok) {
        f->refused++;
        if (!fn->refused_logged) {
            fprintf(stderr, "fleetsim: %s refused (reason 0x%02x), retrying every 5 s\n", n->id,
                    reason);
            fn->refused_logged = 1;
        }
        gf_fleet_arm(f, n->idx, GF_FLEET_T_RETRY, gf_sim_now_us() + RETRY_REFUSED_US);
        return;
    }
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/desired", n->id);
    gf_sim_subscribe(s, n, topic);
    if (!f->o.no_commands) {
        snprintf(topic, sizeof(topic), "gf/v1/n/%s/cmd/req", n->id);
        gf_sim_subscribe(s, n, topic);
    }
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/ack", n->id); /* health and final statuses */
    gf_sim_subscribe(s, n, topic);
    if (s->interval_ms > 0) {
        n->sent_upto = 0;
        n->next_sample_us = gf_sim_now_us() + (int64_t)(rand() % (s->interval_ms * 1000));
    }
    int len =
        snprintf(state, sizeof(state), "{\"state\":\"online\",\"boot_id\":\"%s\",\"session\":%llu}",
                 s->boot, (unsigned long long)n->session);
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/state", n->id);
    gf_sim_publish(s, n, topic, state, (size_t)len, 1, 1);
    send_birth(f, n);
    gf_fleet_ev_presence(f, n, 1, NULL);
    gf_sim_flush(s, n);
}

/* The connection failed or the broker closed it: abandon the plan, try again soon. */
static void on_lost(struct gf_sim *s, struct gf_sim_node *n)
{
    struct gf_fleet *f = s->mode;
    struct gf_fleet_node *fn = &f->fn[n->idx];
    int was_ready = !fn->connecting;

    end_connecting(f, fn);
    gf_fleet_disarm(f, n->idx);
    fn->plan = -1;
    fn->fin_state = -1; /* the retained desired, redelivered, makes the node report again */
    if (f->stopping) {
        return;
    }
    f->lost++;
    if (was_ready) {
        fprintf(stderr, "fleetsim: %s connection lost, reconnecting\n", n->id);
        gf_fleet_ev_presence(f, n, 0, "lost");
    }
    if (!fn->down) {
        gf_fleet_arm(f, n->idx, GF_FLEET_T_RETRY,
                     gf_sim_now_us() + RETRY_LOST_US + (n->idx % 1000) * 1000LL);
    }
}

void gf_fleet_take_offline(struct gf_fleet *f, int idx, const char *reason)
{
    struct gf_sim_node *n = &f->sim->nodes[idx];
    struct gf_fleet_node *fn = &f->fn[idx];

    if (fn->down) {
        return;
    }
    end_connecting(f, fn);
    gf_fleet_disarm(f, idx);
    gf_sim_drop(f->sim, n);
    fn->plan = -1;
    fn->down = 1;
    gf_fleet_ev_presence(f, n, 0, reason);
}

void gf_fleet_bring_online(struct gf_fleet *f, int idx)
{
    if (!f->fn[idx].down) {
        return;
    }
    f->fn[idx].down = 0;
    enqueue_connect(f, idx);
}

/* Is topic gf/v1/n/<id>/<suffix>? */
static int topic_is(const struct gf_sim_msg *m, const char *id, const char *suffix)
{
    size_t il = strlen(id), sl = strlen(suffix);

    return m->tlen == 8 + il + 1 + sl && memcmp(m->topic, "gf/v1/n/", 8) == 0 &&
           memcmp(m->topic + 8, id, il) == 0 && m->topic[8 + il] == '/' &&
           memcmp(m->topic + 9 + il, suffix, sl) == 0;
}

static int on_publish(struct gf_sim *s, struct gf_sim_node *n, const struct gf_sim_msg *m)
{
    struct gf_fleet *f = s->mode;

    if (topic_is(m, n->id, "desired")) {
        return gf_fleet_desired(f, n, m);
    }
    if (topic_is(m, n->id, "cmd/req")) {
        gf_fleet_cmd_req(f, n, m);
    } else if (topic_is(m, n->id, "ack")) {
        gf_sim_health_ack(s, n, m->payload, m->plen);
        gf_fleet_status_ack(f, n, m);
    }
    return 0;
}

/* ------------------------------------------------------------------ the loop */

static void on_timer(struct gf_fleet *f, int idx)
{
    struct gf_sim_node *n = &f->sim->nodes[idx];
    struct gf_fleet_node *fn = &f->fn[idx];
    int kind = fn->timer;

    fn->timer = GF_FLEET_T_NONE;
    if (kind == GF_FLEET_T_STEP && n->st == GF_SIM_READY) {
        gf_fleet_step(f, n);
    } else if (kind == GF_FLEET_T_CONNECT && fn->connecting) {
        fprintf(stderr, "fleetsim: %s no CONNACK in %d s, retrying\n", n->id,
                CONNECT_TIMEOUT_US / 1000000);
        end_connecting(f, fn);
        gf_sim_drop(f->sim, n);
        f->lost++;
        gf_fleet_arm(f, idx, GF_FLEET_T_RETRY, gf_sim_now_us() + RETRY_LOST_US);
    } else if (kind == GF_FLEET_T_RETRY && !fn->down) {
        enqueue_connect(f, idx);
    } else if (kind == GF_FLEET_T_RESEND && n->st == GF_SIM_READY) {
        gf_fleet_resend(f, n);
    }
}

/* Keep-alive: a PINGREQ for every connected node idle for half the keep-alive. */
static void sweep(struct gf_fleet *f, int64_t now)
{
    int64_t idle = (int64_t)f->sim->keepalive * 1000000 / 2;

    for (int i = 0; i < f->sim->nnodes; i++) {
        struct gf_sim_node *n = &f->sim->nodes[i];
        if (n->st == GF_SIM_READY && now - n->last_tx_us >= idle) {
            gf_sim_ping(f->sim, n);
            gf_sim_flush(f->sim, n);
        }
    }
}

static int wait_ms(struct gf_fleet *f, int64_t now, int64_t next_sweep, int64_t deadline)
{
    int64_t until = gf_sim_timers_next(f->timers), cmd = gf_fleet_cmd_next(f);

    until = cmd < until ? cmd : until;
    until = next_sweep < until ? next_sweep : until;
    until = deadline > 0 && deadline < until ? deadline : until;
    int64_t ms = (until - now + 999) / 1000;
    long cap = f->sim->interval_ms > 0 ? 5 : 1000;
    if (f->qlen > 0 && f->connecting < CONNECTING_MAX) {
        cap = 0;
    }
    return (int)(ms < 0 ? 0 : ms > cap ? cap : ms);
}

static void dispatch(struct gf_fleet *f, const struct epoll_event *ev)
{
    struct gf_sim_node *n = ev->data.ptr;

    if (n == NULL) {
        gf_fleet_ctl_read(f);
        return;
    }
    if (n->fd < 0) {
        return; /* dropped by an earlier event of this batch */
    }
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        gf_sim_readable(f->sim, n);
    }
    if (n->fd >= 0 && (ev->events & EPOLLOUT)) {
        gf_sim_flush(f->sim, n);
    }
}

static void loop(struct gf_fleet *f)
{
    struct epoll_event evs[512];
    int64_t start = gf_sim_now_us(), next_sweep = start + SWEEP_US;
    int64_t deadline = f->o.duration_s > 0 ? start + f->o.duration_s * 1000000 : 0;

    while (!f->quit && !stop_signal) {
        int64_t now = gf_sim_now_us();
        if ((deadline > 0 && now >= deadline) || (deadline == 0 && f->stdin_eof)) {
            break;
        }
        pace_connects(f);
        int k = epoll_wait(f->sim->epfd, evs, 512, wait_ms(f, now, next_sweep, deadline));
        for (int e = 0; e < k && !f->quit; e++) {
            dispatch(f, &evs[e]);
        }
        if (!f->stdin_pollable && !f->stdin_eof) {
            gf_fleet_ctl_read(f);
        }
        now = gf_sim_now_us();
        for (int idx; (idx = gf_sim_timers_pop(f->timers, now)) >= 0;) {
            on_timer(f, idx);
        }
        gf_fleet_cmd_tick(f, now);
        if (now >= next_sweep) {
            sweep(f, now);
            next_sweep = now + SWEEP_US;
        }
        for (int i = 0; f->sim->interval_ms > 0 && i < f->sim->nnodes; i++) {
            gf_sim_health_tick(f->sim, &f->sim->nodes[i], now);
        }
    }
}

/* The end: every connected node says offline (shutdown) and disconnects, as the agent's
 * gf_session_close does; the writes get SHUTDOWN_US to leave. */
static void shutdown_nodes(struct gf_fleet *f)
{
    struct gf_sim *s = f->sim;
    char topic[96], state[192];
    int64_t until = gf_sim_now_us() + SHUTDOWN_US;

    f->stopping = 1;

    for (int i = 0; i < s->nnodes; i++) {
        struct gf_sim_node *n = &s->nodes[i];
        if (n->st != GF_SIM_READY) {
            continue;
        }
        int len = snprintf(state, sizeof(state),
                           "{\"state\":\"offline\",\"boot_id\":\"%s\",\"session\":%llu,"
                           "\"reason\":\"shutdown\"}",
                           s->boot, (unsigned long long)n->session);
        snprintf(topic, sizeof(topic), "gf/v1/n/%s/state", n->id);
        gf_sim_publish(s, n, topic, state, (size_t)len, 1, 1);
        gf_sim_disconnect(s, n);
        gf_sim_flush(s, n);
    }
    for (int left = 1; left && gf_sim_now_us() < until;) {
        struct epoll_event evs[512];
        left = 0;
        for (int i = 0; i < s->nnodes; i++) {
            left |= s->nodes[i].fd >= 0 && s->nodes[i].st == GF_SIM_READY && s->nodes[i].wlen > 0;
        }
        int k = left ? epoll_wait(s->epfd, evs, 512, 10) : 0;
        for (int e = 0; e < k; e++) {
            struct gf_sim_node *n = evs[e].data.ptr;
            if (n != NULL && n->fd >= 0 && (evs[e].events & EPOLLOUT)) {
                gf_sim_flush(s, n);
            }
        }
    }
    for (int i = 0; i < s->nnodes; i++) {
        gf_sim_drop(s, &s->nodes[i]);
    }
}

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int gf_fleet_run(struct gf_sim *s, const struct gf_fleet_opts *o)
{
    static const struct gf_sim_hooks hooks = {on_connack, on_publish, on_lost};
    static struct gf_fleet fleet;
    struct gf_fleet *f = &fleet;
    int rc = 1;

    s->hooks = &hooks;
    s->mode = f;
    f->sim = s;
    f->o = *o;
    f->default_beh = gf_fleet_behaviour(o->behaviour);
    f->base_session = (uint64_t)gf_sim_wall_ms() * 1000;
    f->fn = calloc((size_t)s->nnodes + 1, sizeof(*f->fn));
    f->queue = calloc((size_t)s->nnodes + 1, sizeof(*f->queue));
    f->timers = gf_sim_timers_new(s->nnodes);
    if (f->fn == NULL || f->queue == NULL || f->timers == NULL || s->nnodes == 0) {
        fprintf(stderr, "fleetsim: %s\n", s->nnodes ? "out of memory" : "no nodes");
        goto out;
    }
    if (gf_fleet_ctl_init(f) != 0 || gf_fleet_cmd_init(f) != 0) {
        goto out;
    }
    signals();
    for (int i = 0; i < s->nnodes; i++) {
        const char *b = s->nodes[i].behaviour;
        f->fn[i].beh = b[0] ? gf_fleet_behaviour(b) : f->default_beh;
        f->fn[i].plan = -1;
        f->fn[i].fin_state = -1;
        enqueue_connect(f, i);
    }
    loop(f);
    gf_fleet_print_stats(f, "summary"); /* as the run ended, before the goodbyes */
    shutdown_nodes(f);
    rc = 0;
out:
    gf_fleet_cmd_free(f);
    gf_fleet_ctl_free(f);
    gf_sim_timers_free(f->timers);
    free(f->queue);
    free(f->fn);
    return rc;
}
