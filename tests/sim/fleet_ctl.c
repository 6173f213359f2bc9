/* SPDX-License-Identifier: Apache-2.0
 *
 * fleet_ctl.c - fleet mode's contract with its driver (a test or a benchmark; see
 * fleet.h): control lines on stdin, JSON lines on stdout.
 *
 * stdin, one command a line (blank and '#' lines ignored; a bad line is reported on
 * stderr and skipped), read without blocking as part of the epoll loop:
 *   set <node_id|*> <behaviour>        the behaviour for the next desired messages
 *   offline <node_id|*>                drop the connection without DISCONNECT, stay down
 *   online <node_id|*> [behaviour]     reconnect a held node (optionally as behaviour)
 *   stats                              print a stats line now
 *   quit                               end the run (summary line, exit 0)
 * Commands run in order, so `stats` after others is a barrier: when its line appears,
 * everything before it has taken effect. EOF on stdin ends the run when --duration is 0.
 *
 * stdout, one JSON object a line, flushed after each. With --events:
 *   {"ev":"desired","node","gen","bundle_id","version","retained":0|1,"dup":0|1,"t_ms"}
 *   {"ev":"cleared","node","retained","t_ms"}                   an empty desired
 *   {"ev":"status","node","gen","bundle_id","state","reason"?,"t_ms"}
 *   {"ev":"online","node","session","t_ms"}                     CONNACK accepted
 *   {"ev":"offline","node","reason":"behaviour"|"control"|"lost","t_ms"}
 *   {"ev":"command","node","id","name","expiry_s":N|null,"response_topic":"…"|null,
 *    "corr":0|1,"dup":0|1,"t_ms"}      a cmd/req: its Message Expiry as forwarded, its
 *                                      Response Topic, whether the Correlation Data is the id
 *   {"ev":"result","node","id","status","t_ms"}                 each cmd/res published
 * Always: {"ev":"stats"|"summary","mode":"fleet", …counters…} (gf_fleet_print_stats), with
 * the commands' commands_received, _duplicates, _malformed, _answered (final results
 * published), _dropped and _pending; the summary is the last line. t_ms is CLOCK_REALTIME in
 * ms since the epoch.
 */
#include "fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const struct gf_sim_node *sort_nodes; /* qsort has no context argument */

static int by_id(const void *a, const void *b)
{
    return strcmp(sort_nodes[*(const int *)a].id, sort_nodes[*(const int *)b].id);
}

int gf_fleet_ctl_init(struct gf_fleet *f)
{
    struct epoll_event ev = {0};
    int n = f->sim->nnodes;

    f->by_id = calloc((size_t)n + 1, sizeof(*f->by_id));
    if (f->by_id == NULL) {
        fprintf(stderr, "fleetsim: out of memory\n");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        f->by_id[i] = i;
    }
    sort_nodes = f->sim->nodes;
    qsort(f->by_id, (size_t)n, sizeof(*f->by_id), by_id);
    for (int i = 1; i < n; i++) {
        if (by_id(&f->by_id[i - 1], &f->by_id[i]) == 0) {
            fprintf(stderr, "fleetsim: node %s is in the creds file twice\n",
                    f->sim->nodes[f->by_id[i]].id);
            return -1;
        }
    }
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(f->sim->epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0) {
        f->stdin_pollable = 1;
    } else if (errno == EBADF) {
        f->stdin_eof = 1; /* no stdin at all */
    }                     /* else a regular file or /dev/null: read each turn, it never blocks */
    return 0;
}

void gf_fleet_ctl_free(struct gf_fleet *f)
{
    free(f->by_id);
    f->by_id = NULL;
}

static int find(const struct gf_fleet *f, const char *id)
{
    int lo = 0, hi = f->sim->nnodes - 1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->sim->nodes[f->by_id[mid]].id, id);
        if (c == 0) {
            return f->by_id[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ commands */

/* The next blank-separated word of *p into out (cap); 0, or -1 when too long. */
static int word(char **p, char *out, size_t cap)
{
    char *q = *p + strspn(*p, " \t\r");
    size_t len = strcspn(q, " \t\r");

    if (len >= cap) {
        return -1;
    }
    memcpy(out, q, len);
    out[len] = '\0';
    *p = q + len;
    return 0;
}

static void apply(struct gf_fleet *f, const char *cmd, int idx, int beh)
{
    if (strcmp(cmd, "set") == 0) {
        f->fn[idx].beh = beh;
    } else if (strcmp(cmd, "offline") == 0) {
        gf_fleet_take_offline(f, idx, "control");
    } else {
        if (beh >= 0) {
            f->fn[idx].beh = beh;
        }
        gf_fleet_bring_online(f, idx);
    }
}

static void command(struct gf_fleet *f, char *line)
{
    char cmd[16], node[48], beh_name[24], extra[8];
    char *p = line;
    int beh = -1, idx = -1;

    p += strspn(p, " \t\r");
    if (*p == '\0' || *p == '#') {
        return;
    }
    if (word(&p, cmd, sizeof(cmd)) != 0 || word(&p, node, sizeof(node)) != 0 ||
        word(&p, beh_name, sizeof(beh_name)) != 0 || word(&p, extra, sizeof(extra)) != 0) {
        goto bad;
    }
    if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "stats") == 0) {
        if (node[0] != '\0') {
            goto bad;
        }
        if (cmd[0] == 'q') {
            f->quit = 1;
        } else {
            gf_fleet_print_stats(f, "stats");
        }
        return;
    }
    int set = strcmp(cmd, "set") == 0, online = strcmp(cmd, "online") == 0;
    if ((!set && !online && strcmp(cmd, "offline") != 0) || node[0] == '\0' || extra[0] != '\0' ||
        (set && beh_name[0] == '\0') || (!set && !online && beh_name[0] != '\0')) {
        goto bad;
    }
    if (beh_name[0] != '\0' && (beh = gf_fleet_behaviour(beh_name)) < 0) {
        fprintf(stderr, "fleetsim: unknown behaviour '%s'\n", beh_name);
        return;
    }
    if (strcmp(node, "*") == 0) {
        for (int i = 0; i < f->sim->nnodes; i++) {
            apply(f, cmd, i, beh);
        }
        return;
    }
    if ((idx = find(f, node)) < 0) {
        fprintf(stderr, "fleetsim: unknown node '%s'\n", node);
        return;
    }
    apply(f, cmd, idx, beh);
    return;
bad:
    fprintf(stderr,
            "fleetsim: bad command '%s' (set <node|*> <behaviour> | offline <node|*> | "
            "online <node|*> [behaviour] | stats | quit)\n",
            line);
}

void gf_fleet_ctl_read(struct gf_fleet *f)
{
    char chunk[4096];
    ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));

    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (r <= 0) {
        f->stdin_eof = 1;
        if (f->stdin_pollable) {
            epoll_ctl(f->sim->epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
            f->stdin_pollable = 0;
        }
        if (f->llen > 0 && !f->line_overflow) { /* a last line without its newline */
            f->line[f->llen] = '\0';
            command(f, f->line);
        }
        f->llen = 0;
        return;
    }
    for (ssize_t i = 0; i < r && !f->quit; i++) {
        if (chunk[i] != '\n') {
            if (f->llen + 1 < sizeof(f->line)) {
                f->line[f->llen++] = chunk[i];
            } else {
                f->line_overflow = 1;
            }
            continue;
        }
        f->line[f->llen] = '\0';
        if (f->line_overflow) {
            fprintf(stderr, "fleetsim: control line longer than %zu bytes ignored\n",
                    sizeof(f->line) - 1);
        } else {
            command(f, f->line);
        }
        f->llen = 0;
        f->line_overflow = 0;
    }
}

/* ------------------------------------------------------------------ output */

static void line_out(void)
{
    fflush(stdout);
}

void gf_fleet_ev_desired(struct gf_fleet *f, const struct gf_sim_node *n,
                         const struct gf_fleet_bundle *b, int retained, int dup, int64_t t_ms)
{
    if (!f->o.events) {
        return;
    }
    printf("{\"ev\":\"desired\",\"node\":\"%s\",\"gen\":%lld,\"bundle_id\":\"%s\","
           "\"version\":%llu,\"retained\":%d,\"dup\":%d,\"t_ms\":%lld}\n",
           n->id, (long long)b->gen, b->bundle_id, (unsigned long long)b->version, retained ? 1 : 0,
           dup, (long long)t_ms);
    line_out();
}

void gf_fleet_ev_cleared(struct gf_fleet *f, const struct gf_sim_node *n, int retained,
                         int64_t t_ms)
{
    if (!f->o.events) {
        return;
    }
    printf("{\"ev\":\"cleared\",\"node\":\"%s\",\"retained\":%d,\"t_ms\":%lld}\n", n->id,
           retained ? 1 : 0, (long long)t_ms);
    line_out();
}

void gf_fleet_ev_status(struct gf_fleet *f, const struct gf_sim_node *n,
                        const struct gf_fleet_bundle *b, int state, const char *reason)
{
    if (!f->o.events) {
        return;
    }
    printf("{\"ev\":\"status\",\"node\":\"%s\",\"gen\":%lld,\"bundle_id\":\"%s\","
           "\"state\":\"%s\"%s%s%s,\"t_ms\":%lld}\n",
           n->id, (long long)b->gen, b->bundle_id, gf_fleet_state_name(state),
           reason ? ",\"reason\":\"" : "", reason ? reason : "", reason ? "\"" : "",
           (long long)gf_sim_wall_ms());
    line_out();
}

void gf_fleet_ev_presence(struct gf_fleet *f, const struct gf_sim_node *n, int online,
                          const char *reason)
{
    if (!f->o.events) {
        return;
    }
    if (online) {
        printf("{\"ev\":\"online\",\"node\":\"%s\",\"session\":%llu,\"t_ms\":%lld}\n", n->id,
               (unsigned long long)n->session, (long long)gf_sim_wall_ms());
    } else {
        printf("{\"ev\":\"offline\",\"node\":\"%s\",\"reason\":\"%s\",\"t_ms\":%lld}\n", n->id,
               reason, (long long)gf_sim_wall_ms());
    }
    line_out();
}

/* A response topic printable as a JSON string as it is (the server's are), or NULL. */
static const char *plain_topic(const struct gf_sim_msg *m, char *buf, size_t cap)
{
    const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-";

    if (m->resp_topic == NULL || m->resp_len >= cap) {
        return NULL;
    }
    memcpy(buf, m->resp_topic, m->resp_len);
    buf[m->resp_len] = '\0';
    return strspn(buf, ok) == m->resp_len ? buf : NULL;
}

void gf_fleet_ev_command(struct gf_fleet *f, const struct gf_sim_node *n, const char *id,
                         const char *name, const struct gf_sim_msg *m, int corr_ok, int dup)
{
    char topic[192], expiry[24] = "null";
    const char *rt;

    if (!f->o.events) {
        return;
    }
    rt = plain_topic(m, topic, sizeof(topic));
    if (m->expiry_s >= 0) {
        snprintf(expiry, sizeof(expiry), "%lld", (long long)m->expiry_s);
    }
    printf("{\"ev\":\"command\",\"node\":\"%s\",\"id\":\"%s\",\"name\":\"%s\",\"expiry_s\":%s,"
           "\"response_topic\":%s%s%s,\"corr\":%d,\"dup\":%d,\"t_ms\":%lld}\n",
           n->id, id, name, expiry, rt ? "\"" : "", rt ? rt : "null", rt ? "\"" : "", corr_ok, dup,
           (long long)gf_sim_wall_ms());
    line_out();
}

void gf_fleet_ev_result(struct gf_fleet *f, const struct gf_sim_node *n, const char *id,
                        const char *status)
{
    if (!f->o.events) {
        return;
    }
    printf("{\"ev\":\"result\",\"node\":\"%s\",\"id\":\"%s\",\"status\":\"%s\",\"t_ms\":%lld}\n",
           n->id, id, status, (long long)gf_sim_wall_ms());
    line_out();
}

void gf_fleet_print_stats(struct gf_fleet *f, const char *ev)
{
    const struct gf_sim *s = f->sim;
    int connected = 0, down = 0, installed = 0;
    uint64_t total = 0;

    for (int i = 0; i < s->nnodes; i++) {
        connected += s->nodes[i].st == GF_SIM_READY;
        down += f->fn[i].down;
        installed += f->fn[i].have_installed;
    }
    printf("{\"ev\":\"%s\",\"mode\":\"fleet\",\"nodes\":%d,\"connected\":%d,\"down\":%d,"
           "\"behaviour\":\"%s\",\"step_ms\":%ld,\"final_only\":%d,"
           "\"desired_received\":%llu,\"desired_retained\":%llu,\"desired_duplicates\":%llu,"
           "\"desired_cleared\":%llu,\"desired_malformed\":%llu,\"statuses_sent\":{",
           ev, s->nnodes, connected, down, gf_fleet_behaviour_name(f->default_beh), f->o.step_ms,
           f->o.final_only, (unsigned long long)f->desired_received,
           (unsigned long long)f->desired_retained, (unsigned long long)f->desired_duplicates,
           (unsigned long long)f->desired_cleared, (unsigned long long)f->desired_malformed);
    for (int i = 0; i < GF_FLEET_NSTATES; i++) {
        printf("%s\"%s\":%llu", i ? "," : "", gf_fleet_state_name(i),
               (unsigned long long)f->statuses[i]);
        total += f->statuses[i];
    }
    printf("},\"statuses_total\":%llu,\"statuses_resent\":%llu,\"status_acks\":%llu,"
           "\"first_desired_ms\":%lld,\"last_desired_ms\":%lld,"
           "\"last_applied_ms\":%lld,\"installed\":%d,\"connects\":%llu,\"lost\":%llu,"
           "\"refused\":%llu,\"write_drops\":%llu,\"publish_refused\":%llu,"
           "\"samples_made\":%llu,\"samples_acked\":%llu,\"malformed\":%llu,"
           "\"commands_received\":%llu,\"commands_duplicates\":%llu,\"commands_malformed\":%llu,"
           "\"commands_answered\":%llu,\"commands_dropped\":%llu,\"commands_pending\":%d,"
           "\"boot_id\":\"%s\",\"t_ms\":%lld}\n",
           (unsigned long long)total, (unsigned long long)f->statuses_resent,
           (unsigned long long)f->status_acks, (long long)f->first_desired_ms,
           (long long)f->last_desired_ms,
           (long long)f->last_applied_ms, installed, (unsigned long long)f->connects,
           (unsigned long long)f->lost, (unsigned long long)f->refused,
           (unsigned long long)s->wfull, (unsigned long long)s->publish_refused,
           (unsigned long long)s->made, (unsigned long long)s->acked_samples,
           (unsigned long long)s->malformed, (unsigned long long)f->cmd_received,
           (unsigned long long)f->cmd_duplicates, (unsigned long long)f->cmd_malformed,
           (unsigned long long)f->cmd_answered, (unsigned long long)f->cmd_dropped,
           gf_fleet_cmd_pending(f), s->boot, (long long)gf_sim_wall_ms());
    line_out();
}
