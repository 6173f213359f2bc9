/* SPDX-License-Identifier: Apache-2.0
 *
 * fleetsim.c - the fleet simulator: thousands of virtual agents from one process, each a
 * real MQTT 5 connection with its own broker account speaking the agent contract of
 * docs/mqtt.md. A minimal MQTT 5 client over non-blocking sockets and one epoll loop
 * (sim_conn.c) keeps the simulator itself far from being the bottleneck. This file holds
 * the command line, the credentials file and the health-ingest modes; the bundle-protocol
 * fleet mode is fleet_mode.c (its stdin/stdout contract in fleet_ctl.c).
 *
 *   fleetsim --creds FILE --broker HOST:PORT [--interval-ms 1000] [--duration 30]
 *            [--warmup 5] [--mode ingest|echo] [--sink USER:PASSWORD] [--max-batch 100]
 *   fleetsim --mode sink --sink USER:PASSWORD --broker HOST:PORT [--duration S]
 *   fleetsim --mode fleet --creds FILE --broker HOST:PORT [--behaviour ok] [--step-ms 0]
 *            [--final-only] [--interval-ms 0] [--duration 0] [--events] [--max-batch 10]
 *            [--no-commands] [--resend-ms 60000]
 *
 * FILE has one node per line: "<node_id> <password> [behaviour]" (the scripts enroll
 * them; the behaviour column is read by fleet mode only; blank lines and '#' lines are
 * skipped). Every node makes a health sample each interval and sends its unacknowledged
 * samples as one batch when none is in flight (at most --max-batch records). What
 * acknowledges differs:
 * ingest: gatefleet-server, after COMMIT; the figure is samples acknowledged per second,
 *         i.e. committed to PostgreSQL.
 * echo:   the broker-only ceiling: a sink connection in this process (--sink, an account
 *         that may read gf/v1/n/+/health and publish acks) acknowledges every batch at
 *         once and does nothing else, so the same load meets a subscriber that does nothing.
 * Acks for another boot id (an earlier run) are ignored. --mode sink runs the sink alone
 * (no --creds), so the ceiling run can give it a process, as the server has.
 * These modes print one JSON object with the counts and rates of the measured window
 * (after warmup). Fleet mode plays the bundle protocol (desired -> bundle/status) with a
 * scripted behaviour per node, and answers remote commands (cmd/req -> cmd/res: ping, sleep;
 * --no-commands leaves them unanswered); see fleet_mode.c and fleet_cmd.c.
 */
#define _GNU_SOURCE /* memmem */

#include "fleet.h"
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536            /* an ingest node reads acks only */
#define WBUF (256 * 1024)     /* an ingest node's send buffer */
#define SINK_RBUF (4u << 20)  /* the sink reads whole batches */
#define SINK_WBUF (64u << 20) /* the sink's: acks for every node */
#define FLEET_BUF (16 * 1024) /* a fleet node: desired, cmd/req in; state, birth, results out */
#define LINE_MAX_BYTES 512    /* one line of the creds file */

struct opts {
    const char *creds, *sink, *mode, *broker;
    long duration, warmup;
    int have_duration, have_interval, have_batch, have_resend;
    int is_fleet, sink_only;
    struct gf_fleet_opts fleet;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: fleetsim --creds FILE --broker HOST:PORT [--mode ingest|echo|sink|fleet]\n"
            "  ingest, echo: [--interval-ms 1000] [--duration 30] [--warmup 5]\n"
            "                [--sink USER:PW] (echo) [--max-batch 100]\n"
            "  sink:         --sink USER:PW [--duration 30] [--warmup 5] (no --creds)\n"
            "  fleet:        [--behaviour ok] [--step-ms 0] [--final-only] [--events]\n"
            "                [--interval-ms 0 (no health)] [--duration 0 (until quit or EOF)]\n"
            "                [--max-batch 10] [--no-commands] [--resend-ms 60000 (0: never)]\n"
            "  behaviours:   ok fail rollback fail-once hang offline ignore\n"
            "  fleet stdin:  set <node|*> <behaviour> | offline <node|*> |\n"
            "                online <node|*> [behaviour] | stats | quit\n"
            "  FILE lines:   <node_id> <password> [behaviour]\n");
}

/* A whole decimal number in [min, max], or -1 (and a message). */
static int number(const char *opt, const char *text, long min, long max, long *out)
{
    char *end = NULL;

    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "fleetsim: %s wants a number in %ld..%ld, not '%s'\n", opt, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Options with a value. 0, or -1 for a bad value or an unknown option. */
static int set_option(struct opts *o, struct gf_sim *s, const char *k, const char *v)
{
    long x = 0;
    int rc = 0;

    if (strcmp(k, "--creds") == 0) {
        o->creds = v;
    } else if (strcmp(k, "--broker") == 0) {
        o->broker = v;
    } else if (strcmp(k, "--mode") == 0) {
        o->mode = v;
    } else if (strcmp(k, "--sink") == 0) {
        o->sink = v;
    } else if (strcmp(k, "--behaviour") == 0) {
        o->fleet.behaviour = v;
    } else if (strcmp(k, "--interval-ms") == 0) {
        rc = number(k, v, 0, 86400000L, &s->interval_ms);
        o->have_interval = 1;
    } else if (strcmp(k, "--duration") == 0) {
        rc = number(k, v, 0, 86400L * 365, &o->duration);
        o->have_duration = 1;
    } else if (strcmp(k, "--warmup") == 0) {
        rc = number(k, v, 0, 86400L, &o->warmup);
    } else if (strcmp(k, "--max-batch") == 0) {
        rc = number(k, v, 1, 1000, &x);
        s->max_batch = (int)x;
        o->have_batch = 1;
    } else if (strcmp(k, "--step-ms") == 0) {
        rc = number(k, v, 0, 3600000L, &o->fleet.step_ms);
    } else if (strcmp(k, "--resend-ms") == 0) {
        rc = number(k, v, 0, 3600000L, &o->fleet.resend_ms);
        o->have_resend = 1;
    } else {
        fprintf(stderr, "fleetsim: unknown option %s\n", k);
        rc = -1;
    }
    return rc;
}

static int parse_args(int argc, char **argv, struct opts *o, struct gf_sim *s)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--final-only") == 0) {
            o->fleet.final_only = 1;
        } else if (strcmp(argv[i], "--events") == 0) {
            o->fleet.events = 1;
        } else if (strcmp(argv[i], "--no-commands") == 0) {
            o->fleet.no_commands = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return -1;
        } else if (i + 1 >= argc) {
            fprintf(stderr, "fleetsim: %s needs a value\n", argv[i]);
            return -1;
        } else if (set_option(o, s, argv[i], argv[i + 1]) != 0) {
            return -1;
        } else {
            i++;
        }
    }
    if (o->broker != NULL) {
        const char *colon = strchr(o->broker, ':');
        long port = 1883;
        snprintf(s->host, sizeof(s->host), "%.*s", (int)strcspn(o->broker, ":"), o->broker);
        if (colon != NULL && number("--broker port", colon + 1, 1, 65535, &port) != 0) {
            return -1;
        }
        s->port = (int)port;
    }
    return 0;
}

/* Copy the next blank-separated token of *p into out (cap); 0, or -1 when too long. */
static int token(const char **p, char *out, size_t cap)
{
    const char *q = *p + strspn(*p, " \t\r\n");
    size_t len = strcspn(q, " \t\r\n");

    if (len >= cap) {
        return -1;
    }
    memcpy(out, q, len);
    out[len] = '\0';
    *p = q + len;
    return 0;
}

/* The creds file into s->nodes: "<node_id> <password> [behaviour]" per line. */
static int load_creds(struct gf_sim *s, const char *path, int fleet)
{
    char line[LINE_MAX_BYTES], extra[8];
    FILE *f = fopen(path, "r");
    int lineno = 0, rc = -1;

    if (f == NULL) {
        perror("fleetsim: creds");
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        struct gf_sim_node *n = &s->nodes[s->nnodes];
        const char *p = line;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            fprintf(stderr, "fleetsim: %s:%d: line too long\n", path, lineno);
            goto out;
        }
        if (line[strspn(line, " \t\r\n")] == '\0' || line[strspn(line, " \t")] == '#') {
            continue;
        }
        if (s->nnodes >= GF_SIM_MAX_NODES) {
            fprintf(stderr, "fleetsim: %s: more than %d nodes\n", path, GF_SIM_MAX_NODES);
            goto out;
        }
        if (token(&p, n->id, sizeof(n->id)) != 0 || token(&p, n->pw, sizeof(n->pw)) != 0 ||
            token(&p, n->behaviour, sizeof(n->behaviour)) != 0 ||
            token(&p, extra, sizeof(extra)) != 0 || extra[0] != '\0' || n->pw[0] == '\0') {
            fprintf(stderr, "fleetsim: %s:%d: want \"<node_id> <password> [behaviour]\"\n", path,
                    lineno);
            goto out;
        }
        if (fleet && n->behaviour[0] != '\0' && gf_fleet_behaviour(n->behaviour) < 0) {
            fprintf(stderr, "fleetsim: %s:%d: unknown behaviour '%s'\n", path, lineno,
                    n->behaviour);
            goto out;
        }
        s->nnodes++;
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------ ingest, echo, sink */

static int echo_mode;

static void send_birth(struct gf_sim *s, struct gf_sim_node *n)
{
    char topic[96], body[512];
    int len = snprintf(body, sizeof(body),
                       "{\"boot_id\":\"%s\",\"session\":%llu,\"agent_version\":\"fleetsim\","
                       "\"inventory\":{\"hostname\":\"sim-%.8s\",\"arch\":\"x86_64\"},"
                       "\"health_interval\":%ld,\"keepalive\":%d}",
                       s->boot, (unsigned long long)n->session, n->id,
                       s->interval_ms / 1000 ? s->interval_ms / 1000 : 1, s->keepalive);

    snprintf(topic, sizeof(topic), "gf/v1/n/%s/birth", n->id);
    gf_sim_publish(s, n, topic, body, (size_t)len, 1, 0);
}

static void ingest_connack(struct gf_sim *s, struct gf_sim_node *n, int ok, int reason)
{
    char f[96];

    if (!ok) {
        fprintf(stderr, "fleetsim: %s refused (reason 0x%02x)\n", n->id, reason);
        n->st = GF_SIM_DEAD;
        return;
    }
    if (n->sink) {
        gf_sim_subscribe(s, n, "$share/fleetsim/gf/v1/n/+/health");
        return;
    }
    snprintf(f, sizeof(f), "gf/v1/n/%s/ack", n->id);
    gf_sim_subscribe(s, n, f);
    if (!echo_mode) {
        send_birth(s, n);
    }
}

/* The sink: acknowledge the batch at once (its node from the topic, its last seq). */
static void sink_batch(struct gf_sim *s, struct gf_sim_node *n, const struct gf_sim_msg *m)
{
    const unsigned char *p = m->payload;
    char at[96], body[128], bid[40] = "";
    uint64_t recs = 0, last = 0;

    for (size_t k = 0; k + 6 < m->plen; k++) {
        if (p[k] == '"' && memcmp(p + k, "\"seq\":", 6) == 0) {
            recs++;
            last = strtoull((const char *)p + k + 6, NULL, 10);
        }
    }
    s->sink_samples += recs;
    int64_t t = gf_sim_now_us();
    if (t >= s->window_start && t < s->window_end) {
        s->sink_w += recs;
    }
    if (m->tlen <= 8 + 36 || memcmp(m->topic, "gf/v1/n/", 8) != 0) {
        return;
    }
    snprintf(at, sizeof(at), "gf/v1/n/%.36s/ack", m->topic + 8);
    /* the boot id of the batch (the nodes may live in another process) */
    const unsigned char *bp = memmem(p, m->plen, "\"boot_id\":\"", 11);
    if (bp != NULL) {
        size_t rest = m->plen - (size_t)(bp + 11 - p), bl = 0;
        while (bl < rest && bl < 39 && bp[11 + bl] != '"') {
            bl++;
        }
        snprintf(bid, sizeof(bid), "%.*s", (int)bl, (const char *)bp + 11);
    }
    int len = snprintf(body, sizeof(body), "{\"boot_id\":\"%s\",\"seq\":%llu}", bid,
                       (unsigned long long)last);
    /* QoS 0: no PUBACK flow to respect the broker's receive maximum; this makes the
     * ceiling slightly optimistic, so the measured ratio errs low. */
    gf_sim_publish(s, n, at, body, (size_t)len, 0, 0);
}

static int ingest_publish(struct gf_sim *s, struct gf_sim_node *n, const struct gf_sim_msg *m)
{
    if (n->sink) {
        sink_batch(s, n, m);
    } else {
        gf_sim_health_ack(s, n, m->payload, m->plen);
    }
    return 0;
}

static void ingest_lost(struct gf_sim *s, struct gf_sim_node *n)
{
    (void)s;
    fprintf(stderr, "fleetsim: %s connection closed\n", n->sink ? "sink" : n->id);
}

static const struct gf_sim_hooks ingest_hooks = {ingest_connack, ingest_publish, ingest_lost};

static int start_sink(struct gf_sim *s, const char *sink)
{
    struct gf_sim_node *k = &s->nodes[s->nnodes];
    char user[64], pw[128];
    const char *colon = strchr(sink, ':');

    k->sink = 1;
    k->idx = s->nnodes;
    k->rcap = SINK_RBUF;
    k->wcap = SINK_WBUF;
    snprintf(k->id, sizeof(k->id), "sink");
    snprintf(user, sizeof(user), "%.*s", (int)strcspn(sink, ":"), sink);
    snprintf(pw, sizeof(pw), "%s", colon ? colon + 1 : "");
    if (gf_sim_connect(s, k, "fleetsim-sink", user, pw, NULL) != 0) {
        fprintf(stderr, "fleetsim: cannot open the sink connection\n");
        return -1;
    }
    return 0;
}

/* The one JSON line of ingest, echo and sink: counts and rates of the measured window. */
static void print_ingest(const struct gf_sim *s, const struct opts *o)
{
    int ready = 0;
    for (int i = 0; i < s->nnodes; i++) {
        ready += s->nodes[i].st == GF_SIM_READY;
    }
    double secs = (double)o->duration;
    printf("{\"mode\":\"%s\",\"nodes\":%d,\"connected\":%d,\"interval_ms\":%ld,"
           "\"window_s\":%ld,\"samples_made\":%llu,\"samples_acked\":%llu,"
           "\"samples_sunk\":%llu,\"made_per_s\":%.0f,\"acked_per_s\":%.0f,"
           "\"sunk_per_s\":%.0f,\"backlog\":%llu,\"batches\":%llu,\"resends\":%llu,"
           "\"write_drops\":%llu,\"boot_id\":\"%s\"}\n",
           o->sink_only ? "sink"
           : echo_mode  ? "echo"
                        : "ingest",
           s->nnodes, ready, s->interval_ms, o->duration, (unsigned long long)s->made,
           (unsigned long long)s->acked_samples, (unsigned long long)s->sink_samples,
           (double)s->made_w / secs, (double)s->acked_w / secs, (double)s->sink_w / secs,
           (unsigned long long)(s->made - s->acked_samples), (unsigned long long)s->batches_sent,
           (unsigned long long)s->resends, (unsigned long long)s->wfull, s->boot);
    fflush(stdout);
}

static int run_ingest(struct gf_sim *s, const struct opts *o)
{
    struct epoll_event evs[512];
    int64_t t0 = gf_sim_now_us();

    s->hooks = &ingest_hooks;
    s->rcap = RBUF;
    s->wcap = WBUF;
    s->keepalive = 60;
    for (int i = 0; i < s->nnodes; i++) {
        struct gf_sim_node *n = &s->nodes[i];
        n->session = 1;
        n->next_sample_us = t0 + (int64_t)(rand() % (s->interval_ms * 1000));
        if (gf_sim_connect(s, n, n->id, n->id, n->pw, NULL) != 0) {
            fprintf(stderr, "fleetsim: cannot open connection %d\n", i);
            return 1;
        }
    }
    if (o->sink != NULL && start_sink(s, o->sink) != 0) {
        return 1;
    }
    s->window_start = t0 + o->warmup * 1000000;
    s->window_end = s->window_start + o->duration * 1000000;
    while (gf_sim_now_us() < s->window_end) {
        int k = epoll_wait(s->epfd, evs, 512, 1);
        for (int e = 0; e < k; e++) {
            struct gf_sim_node *n = evs[e].data.ptr;
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                gf_sim_readable(s, n);
            }
            if (evs[e].events & EPOLLOUT) {
                gf_sim_flush(s, n);
            }
        }
        int64_t t = gf_sim_now_us();
        for (int i = 0; i < s->nnodes; i++) {
            gf_sim_health_tick(s, &s->nodes[i], t);
        }
    }
    print_ingest(s, o);
    return 0;
}

/* ------------------------------------------------------------------ main */

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Defaults, the command line, and what each mode needs. 0, or -1 (usage, exit 2). */
static int configure(int argc, char **argv, struct opts *o, struct gf_sim *s)
{
    snprintf(s->host, sizeof(s->host), "127.0.0.1");
    s->port = 1883;
    s->interval_ms = 1000;
    s->max_batch = 100;
    o->mode = "ingest";
    o->duration = 30;
    o->warmup = 5;
    o->fleet.behaviour = "ok";
    if (parse_args(argc, argv, o, s) != 0) {
        return -1;
    }
    o->is_fleet = strcmp(o->mode, "fleet") == 0;
    o->sink_only = strcmp(o->mode, "sink") == 0;
    echo_mode = strcmp(o->mode, "echo") == 0;
    if (!o->is_fleet && !o->sink_only && !echo_mode && strcmp(o->mode, "ingest") != 0) {
        fprintf(stderr, "fleetsim: unknown mode %s\n", o->mode);
        return -1;
    }
    if (o->is_fleet) {
        s->interval_ms = o->have_interval ? s->interval_ms : 0;
        s->max_batch = o->have_batch ? s->max_batch : 10;
        o->fleet.duration_s = o->have_duration ? o->duration : 0;
        /* the agent's resend timeout: twice the keep-alive (30 s in fleet mode), >= 10 s */
        o->fleet.resend_ms = o->have_resend ? o->fleet.resend_ms : 2 * 30 * 1000L;
        if (gf_fleet_behaviour(o->fleet.behaviour) < 0) {
            fprintf(stderr, "fleetsim: unknown behaviour %s\n", o->fleet.behaviour);
            return -1;
        }
    }
    if ((o->creds == NULL && !o->sink_only) || ((echo_mode || o->sink_only) && o->sink == NULL) ||
        (!o->is_fleet && s->interval_ms < 1)) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct gf_sim sim;
    struct gf_sim *s = &sim;
    struct opts o = {0};
    int rc = 1;

    s->epfd = -1;
    if (configure(argc, argv, &o, s) != 0) {
        usage();
        return 2;
    }
    raise_fd_limit();
    s->nodes = calloc(GF_SIM_MAX_NODES + 1, sizeof(*s->nodes));
    if (s->nodes == NULL) {
        perror("fleetsim");
        return 1;
    }
    for (int i = 0; i <= GF_SIM_MAX_NODES; i++) {
        s->nodes[i].idx = i;
        s->nodes[i].fd = -1;
    }
    if (!o.sink_only && load_creds(s, o.creds, o.is_fleet) != 0) {
        goto out;
    }
    gf_sim_health_init(s);
    snprintf(s->boot, sizeof(s->boot), "sim-%08lx-%04x", (unsigned long)time(NULL),
             (unsigned)getpid() & 0xffff);
    if ((s->epfd = epoll_create1(0)) < 0) {
        perror("fleetsim: epoll");
        goto out;
    }
    if (o.is_fleet) {
        s->rcap = FLEET_BUF;
        s->wcap = FLEET_BUF +
                  (s->interval_ms > 0 ? (size_t)s->max_batch * (GF_SIM_SAMPLE_BYTES + 128) : 0);
        s->keepalive = 30;
        rc = gf_fleet_run(s, &o.fleet);
    } else {
        rc = run_ingest(s, &o);
    }
out:
    for (int i = 0; i <= GF_SIM_MAX_NODES; i++) {
        if (s->nodes[i].fd >= 0) {
            close(s->nodes[i].fd);
        }
        free(s->nodes[i].rbuf);
        free(s->nodes[i].wbuf);
    }
    free(s->nodes);
    if (s->epfd >= 0) {
        close(s->epfd);
    }
    return rc;
}
