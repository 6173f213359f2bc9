/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet.h - the simulator's fleet mode (tests/sim/): virtual agents that play the bundle
 * protocol of docs/mqtt.md and docs/bundle-format.md - a retained `desired` in, the
 * `bundle/status` steps out - each with a scripted behaviour. fleet_mode.c runs the nodes'
 * sessions (the agent's Will, state, birth) and the loop; fleet_bundle.c answers desired
 * messages by behaviour, in timed steps; fleet_cmd.c answers remote commands (`cmd/req` in,
 * `cmd/res` out: ping, sleep, anything else rejected); fleet_ctl.c is the mode's contract
 * with whoever drives it: control lines on stdin, JSON lines on stdout. This header is
 * shared by those four files and fleetsim.c only.
 */
#ifndef GF_SIM_FLEET_H
#define GF_SIM_FLEET_H

#include "sim.h"

#include <stdint.h>

enum gf_fleet_beh {
    GF_FLEET_OK,
    GF_FLEET_FAIL,
    GF_FLEET_ROLLBACK,
    GF_FLEET_FAIL_ONCE,
    GF_FLEET_HANG,
    GF_FLEET_OFFLINE,
    GF_FLEET_IGNORE,
    GF_FLEET_NBEH
};

/* bundle/status states, in docs/bundle-format.md's order */
enum gf_fleet_state {
    GF_FLEET_DOWNLOADING,
    GF_FLEET_VERIFYING,
    GF_FLEET_APPLYING,
    GF_FLEET_APPLIED,
    GF_FLEET_FAILED,
    GF_FLEET_ROLLED_BACK,
    GF_FLEET_NSTATES
};

/* What a node's one timer means right now. */
enum gf_fleet_timer {
    GF_FLEET_T_NONE,
    GF_FLEET_T_STEP,
    GF_FLEET_T_CONNECT,
    GF_FLEET_T_RETRY,
    GF_FLEET_T_RESEND /* the final status, not acknowledged yet, goes again */
};

struct gf_fleet_opts {
    const char *behaviour; /* the default, for nodes without a creds column */
    long step_ms;          /* between two status steps; 0 = all at once */
    int final_only;        /* publish only the last step of each plan */
    int events;            /* one JSON line per event on stdout */
    long duration_s;       /* 0 = until `quit`, a signal or EOF on stdin */
    int no_commands;       /* do not subscribe to cmd/req (commands then expire) */
    long resend_ms;        /* a final status unacknowledged this long goes again; 0: never */
};

/* The desired bundle as the server published it (server/store/q_bundles.c). */
struct gf_fleet_bundle {
    char bundle_id[40];
    char name[64];
    uint64_t version;
    char sha256[65];
    int64_t gen;
};

#define GF_FLEET_LIVE_GENS 8 /* live (retain=0) gens remembered per node: duplicates */
#define GF_FLEET_CMD_SEEN 16 /* command ids remembered per node (hashed): duplicates */

struct gf_fleet_node {
    int beh;
    int down;       /* held offline (behaviour `offline` or the `offline` command) */
    int queued;     /* in the connect queue */
    int connecting; /* between connect() and CONNACK */
    int timer;      /* enum gf_fleet_timer */
    uint32_t connects;
    int plan, step; /* the plan being played and its next step; plan < 0: none */
    /* The final status sent and not yet acknowledged by the server (`ack` {status_gen,
     * state}), as the agent keeps it: sent again after fin_wait_ms, doubling. */
    int fin_state; /* enum gf_fleet_state; -1: none pending */
    const char *fin_reason;
    int64_t fin_wait_ms;
    struct gf_fleet_bundle cur, installed;
    int have_installed;
    char failed_sha256[65]; /* fail-once: the manifest it failed, and at which gen */
    int64_t failed_gen;
    int64_t live_gens[GF_FLEET_LIVE_GENS];
    unsigned live_n;
    int refused_logged;
    uint64_t cmd_seen[GF_FLEET_CMD_SEEN]; /* FNV-1a of the last command ids, a ring */
    unsigned cmd_seen_n;
};

struct gf_fleet_cmds; /* fleet_cmd.c: the commands being played (sleep), with their timers */

struct gf_fleet {
    struct gf_sim *sim;
    struct gf_fleet_opts o;
    int default_beh;
    struct gf_fleet_node *fn; /* parallel to sim->nodes */
    struct gf_sim_timers *timers;
    int *queue; /* connect queue: a ring of node indices, each at most once */
    int qhead, qlen, connecting;
    uint64_t base_session;
    int quit, stopping; /* stopping: the run is over, nodes are saying goodbye */
    /* stdin (fleet_ctl.c) */
    int stdin_pollable, stdin_eof, line_overflow;
    char line[1024];
    size_t llen;
    int *by_id; /* node indices sorted by id */
    /* counters */
    uint64_t desired_received, desired_retained, desired_duplicates, desired_cleared;
    uint64_t desired_malformed, statuses[GF_FLEET_NSTATES], statuses_resent, status_acks;
    int64_t first_desired_ms, last_desired_ms, last_applied_ms;
    uint64_t connects, lost, refused;
    /* commands (fleet_cmd.c) */
    struct gf_fleet_cmds *cmds;
    uint64_t cmd_received, cmd_duplicates, cmd_malformed, cmd_answered, cmd_dropped;
};

/* ---- fleet_bundle.c */

/* A behaviour's index by name, or -1. */
int gf_fleet_behaviour(const char *name);
const char *gf_fleet_behaviour_name(int beh);
const char *gf_fleet_state_name(int state);

/* A message on the node's `desired` topic. Returns 1 when the node dropped its connection
 * (behaviour offline: no PUBACK), else 0. */
int gf_fleet_desired(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_sim_msg *m);

/* A message on the node's `ack` topic: a final status acknowledged ({status_gen, state})
 * stops its resending; anything else is not for this file. */
void gf_fleet_status_ack(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_sim_msg *m);

/* The node's resend timer: its final status, still unacknowledged, goes again. */
void gf_fleet_resend(struct gf_fleet *f, struct gf_sim_node *n);

/* The node's step timer fired: publish the next step(s) of its plan. */
void gf_fleet_step(struct gf_fleet *f, struct gf_sim_node *n);

/* ---- fleet_cmd.c */

/* The pool of commands in play and its timers. 0, or -1 when out of memory. */
int gf_fleet_cmd_init(struct gf_fleet *f);
void gf_fleet_cmd_free(struct gf_fleet *f);

/* A message on the node's `cmd/req` topic: answer it (running, then the result; a sleep's
 * result when its time comes), once per id. */
void gf_fleet_cmd_req(struct gf_fleet *f, struct gf_sim_node *n, const struct gf_sim_msg *m);

/* When the next command result is due (INT64_MAX: none); publish those due at now_us. */
int64_t gf_fleet_cmd_next(const struct gf_fleet *f);
void gf_fleet_cmd_tick(struct gf_fleet *f, int64_t now_us);

/* How many commands are in play now (stats). */
int gf_fleet_cmd_pending(const struct gf_fleet *f);

/* ---- fleet_mode.c */

/* Arm the node's one timer (kind: enum gf_fleet_timer) for due_us; disarm it. */
void gf_fleet_arm(struct gf_fleet *f, int idx, int kind, int64_t due_us);
void gf_fleet_disarm(struct gf_fleet *f, int idx);

/* Run fleet mode over s->nodes until the duration, `quit`, SIGINT/SIGTERM or (duration 0)
 * EOF on stdin; then print the summary line and let every connected node say offline
 * (shutdown) and disconnect. Returns the exit status. */
int gf_fleet_run(struct gf_sim *s, const struct gf_fleet_opts *o);

/* Drop a node's connection without DISCONNECT (the broker publishes its Will) and hold
 * it offline; reason goes into the offline event ("control", "behaviour"). */
void gf_fleet_take_offline(struct gf_fleet *f, int idx, const char *reason);

/* Let a held node connect again (a new session: state online, birth, subscription - the
 * broker then delivers the retained desired). */
void gf_fleet_bring_online(struct gf_fleet *f, int idx);

/* ---- fleet_ctl.c */

/* The sorted id index and stdin in the epoll set (data.ptr NULL). 0, or -1 (duplicate
 * node ids, no memory). */
int gf_fleet_ctl_init(struct gf_fleet *f);
void gf_fleet_ctl_free(struct gf_fleet *f);

/* Read what stdin has and run the complete command lines. */
void gf_fleet_ctl_read(struct gf_fleet *f);

/* Event lines (with --events) and the stats / summary line (always). */
void gf_fleet_ev_desired(struct gf_fleet *f, const struct gf_sim_node *n,
                         const struct gf_fleet_bundle *b, int retained, int dup, int64_t t_ms);
void gf_fleet_ev_cleared(struct gf_fleet *f, const struct gf_sim_node *n, int retained,
                         int64_t t_ms);
void gf_fleet_ev_status(struct gf_fleet *f, const struct gf_sim_node *n,
                        const struct gf_fleet_bundle *b, int state, const char *reason);
void gf_fleet_ev_presence(struct gf_fleet *f, const struct gf_sim_node *n, int online,
                          const char *reason);
void gf_fleet_ev_command(struct gf_fleet *f, const struct gf_sim_node *n, const char *id,
                         const char *name, const struct gf_sim_msg *m, int corr_ok, int dup);
void gf_fleet_ev_result(struct gf_fleet *f, const struct gf_sim_node *n, const char *id,
                        const char *status);
void gf_fleet_print_stats(struct gf_fleet *f, const char *ev);

#endif
