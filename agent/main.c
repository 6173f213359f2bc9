/* SPDX-License-Identifier: Apache-2.0
 *
 * main.c - gatefleet-agent entry point and main loop.
 *
 *   gatefleet-agent [--config FILE] [--<key> value ...]   run
 *   gatefleet-agent config-docs                          print the settings table
 *   gatefleet-agent --print-config                       print the effective settings
 *
 * Start-up: settings, identity (created on first start), enrollment unless node.json says
 * accepted (pending: signed polls with capped exponential backoff and jitter; rejected:
 * exit 3, loudly), spool, collectors. Then one loop on the main thread: a sample every
 * health_interval goes to the spool first; when connected and no batch is in flight (or
 * the one in flight is older than the resend timeout) the oldest records go out as one
 * `health` batch; an `ack` releases them from the spool and sends the next batch at once,
 * so a backlog after an outage replays in order, batched. `cmd/req` messages go to remote.c
 * (commands and log streams, on their own threads); built-ins that need the collectors or a
 * new birth are served here between waits. agent.restart leaves the loop like SIGTERM and
 * then re-executes the program. Exit status: 0 after SIGTERM or
 * SIGINT, 2 for configuration errors (bad token included), 3 when the node is rejected or
 * decommissioned, 1 for other fatal errors.
 */
#define GF_LOG_MODULE "agent"

#include "bundler.h"
#include "collectors/collector.h"
#include "config.h"
#include "enroll.h"
#include "identity.h"
#include "inventory.h"
#include "log.h"
#include "remote.h"
#include "session.h"
#include "spool.h"
#include "telemetry.h"
#include "timefmt.h"

#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define EXIT_REJECTED 3
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define POLL_MIN_MS 5000
#define POLL_MAX_MS 300000

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* d ± 20 % */
static long jitter(long d)
{
    return d - d / 5 + (long)randombytes_uniform((uint32_t)(2 * (d / 5) + 1));
}

static void sleep_ms(long ms)
{
    while (ms > 0 && !stop_signal) {
        long step = ms > 200 ? 200 : ms;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

struct agent {
    struct gf_agent_config cfg;
    struct gf_identity *id;
    struct gf_node_state node;
    struct gf_collect_roots roots;
    void *states[GF_COLL_MAX_COLLECTORS];
    struct gf_spool *spool;
    struct gf_session *session;
    char boot_id[64];
    struct gf_batch batch; /* in flight when batch.records > 0 and sent_us != 0 */
    int64_t sent_us;
    struct gf_buf rec;
    json_t *last_sample; /* the newest health sample: birth's inventory comes from it */
    struct gf_bundler *bundler;
    struct gf_remote *remote;
    atomic_int restart; /* agent.restart: leave the loop, then exec ourselves again */
};

/* One health sample into the spool. */
static void sample_once(struct agent *a)
{
    struct gf_spool_stats st;
    json_t *s = json_object();

    if (s == NULL || gf_collect_all(a->states, &a->roots, s) != GF_OK) {
        json_decref(s);
        gf_log_warn("health sample skipped: out of memory", "%s", "");
        return;
    }
    long rtt = a->session ? gf_session_rtt_ms(a->session) : -1;
    json_t *link = json_object_get(s, "link");
    if (rtt >= 0 && json_is_object(link)) {
        json_object_set_new(link, "broker_rtt_ms", json_integer(rtt));
    }
    gf_spool_stats(a->spool, &st);
    if (gf_telemetry_record(&a->rec, a->boot_id, st.next_id, gf_time_now_us(), s) == GF_OK &&
        gf_spool_append(a->spool, a->rec.data, a->rec.len, NULL) != GF_OK) {
        gf_log_error("cannot write the spool", "dir=%s/spool", a->cfg.state_dir);
    }
    json_decref(a->last_sample);
    a->last_sample = s;
}

static void send_batch(struct agent *a)
{
    struct gf_spool_stats st;

    gf_spool_stats(a->spool, &st);
    if (gf_telemetry_batch(a->spool, gf_session_number(a->session), st.dropped, &a->batch) !=
            GF_OK ||
        a->batch.records == 0) {
        if (a->batch.last_id != 0) {
            gf_spool_ack(a->spool, a->batch.last_id); /* only unreadable records: drop them */
        }
        a->sent_us = 0;
        return;
    }
    if (gf_session_publish(a->session, "health", a->batch.payload.data, a->batch.payload.len) ==
        GF_OK) {
        a->sent_us = gf_time_mono_us();
        gf_log_debug("health batch sent", "records=%zu first=%llu last=%llu", a->batch.records,
                     (unsigned long long)a->batch.first_id, (unsigned long long)a->batch.last_id);
    } else {
        a->sent_us = 0;
    }
}

static void send_birth(struct agent *a)
{
    char clock[40];
    /* The newest sample, not a fresh collection: running the collectors out of turn would
     * shorten the window of the next sample's rates (CPU, link, disk). */
    json_t *inv = gf_inventory(&a->roots, a->last_sample);
    gf_time_format_rfc3339(gf_time_now_us(), clock, sizeof(clock));
    char applied[512] = "null";
    if (a->bundler != NULL) {
        gf_bundler_applied(a->bundler, applied, sizeof(applied));
    }
    json_t *b = json_pack("{s:s, s:I, s:s, s:o, s:s, s:i, s:i, s:o}", "boot_id", a->boot_id,
                          "session", (json_int_t)gf_session_number(a->session),
                          "agent_version", GF_VERSION, "inventory", inv ? inv : json_object(),
                          "clock", clock, "health_interval", (int)a->cfg.health_interval,
                          "keepalive", (int)a->cfg.keepalive, "applied_bundle",
                          json_loads(applied, JSON_DECODE_ANY, NULL));
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    if (text != NULL) {
        gf_session_publish(a->session, "birth", text, strlen(text));
    }
    free(text);
    json_decref(b);
}

/* Enroll or poll until accepted. force: ask the server even when node.json says accepted
 * (the broker refused the credentials). 0, or an exit status. */
static int enroll(struct agent *a, int force)
{
    long wait = POLL_MIN_MS;
    char msg[300];

    if (gf_node_state_load(a->cfg.state_dir, &a->node) == GF_OK && !force &&
        strcmp(a->node.status, "accepted") == 0 && a->node.password[0]) {
        return 0;
    }
    if (a->node.node_id[0] == '\0' && a->cfg.enrollment_token == NULL) {
        gf_log_error("not enrolled and no enrollment_token configured", "key=%s",
                     "enrollment_token");
        return 2;
    }
    json_t *sample = json_object();
    gf_collect_all(a->states, &a->roots, sample);
    json_t *inv = gf_inventory(&a->roots, sample);
    json_t *fp = gf_fingerprint(&a->roots);
    json_decref(sample);
    int rc = -1;
    while (rc < 0 && !stop_signal) {
        enum gf_enroll_status status;
        gf_enroll_call(&a->cfg, a->id, inv, fp, &a->node, &status, msg, sizeof(msg));
        switch (status) {
        case GF_ENROLL_ACCEPTED:
            if (gf_node_state_save(a->cfg.state_dir, &a->node) != GF_OK) {
                gf_log_error("cannot save node.json", "dir=%s", a->cfg.state_dir);
                rc = 1;
            } else {
                gf_log_info("enrolled: accepted", "node=%s", a->node.node_id);
                rc = 0;
            }
            break;
        case GF_ENROLL_PENDING:
            gf_node_state_save(a->cfg.state_dir, &a->node);
            gf_log_info("enrollment pending: waiting for an operator", "node=%s retry_ms=%ld",
                        a->node.node_id, wait);
            break;
        case GF_ENROLL_REJECTED:
            gf_log_error("node rejected or decommissioned by the server; not retrying",
                         "node=%s detail=\"%s\"", a->node.node_id, msg);
            rc = EXIT_REJECTED;
            break;
        case GF_ENROLL_BAD_TOKEN:
            gf_log_error("enrollment token refused; fix enrollment_token", "detail=\"%s\"", msg);
            rc = 2;
            break;
        case GF_ENROLL_RETRY:
            gf_log_warn("enrollment failed, retrying", "detail=\"%s\" retry_ms=%ld", msg, wait);
            break;
        }
        if (rc < 0) {
            sleep_ms(jitter(wait));
            wait = wait * 2 > POLL_MAX_MS ? POLL_MAX_MS : wait * 2;
        }
    }
    json_decref(inv);
    json_decref(fp);
    return rc < 0 ? 0 : rc;
}

static void on_desired(void *ud, const void *payload, size_t len)
{
    struct agent *a = ud;

    gf_bundler_desired(a->bundler, payload, len);
}

static void on_command(void *ud, const void *payload, size_t len, long expiry_ms)
{
    struct agent *a = ud;

    gf_remote_request(a->remote, payload, len, expiry_ms);
}

/* On a runner thread: a->session is the main thread's, so remote.c wakes the loop. */
static void on_restart(void *ud)
{
    struct agent *a = ud;

    atomic_store(&a->restart, 1);
}

/* What a command's built-in waits for from the main thread (remote.h). */
static void serve_remote(struct agent *a)
{
    switch (gf_remote_wanted(a->remote)) {
    case GF_REMOTE_SAMPLE: {
        sample_once(a); /* spooled and sent like any sample */
        char at[40];
        gf_time_format_rfc3339(gf_time_now_us(), at, sizeof(at));
        json_t *r = json_pack("{s:s, s:O?}", "at", at, "sample", a->last_sample);
        gf_remote_done(a->remote, GF_REMOTE_SAMPLE, r);
        json_decref(r);
        break;
    }
    case GF_REMOTE_BIRTH: {
        send_birth(a);
        json_t *inv = gf_inventory(&a->roots, a->last_sample);
        json_t *r = json_pack("{s:b, s:o}", "birth_sent", gf_session_connected(a->session),
                              "inventory", inv ? inv : json_object());
        gf_remote_done(a->remote, GF_REMOTE_BIRTH, r);
        json_decref(r);
        break;
    }
    case GF_REMOTE_NONE:
        break;
    }
}

static int open_session(struct agent *a)
{
    struct gf_session_opts o = {0};

    o.url = a->cfg.broker_url ? a->cfg.broker_url : a->node.url;
    o.client_id = a->node.node_id;
    o.username = a->node.username;
    o.password = a->node.password;
    o.topic_root = a->node.topic_root;
    o.ca_file = a->cfg.broker_ca_file ? a->cfg.broker_ca_file : a->cfg.ca_file;
    o.state_dir = a->cfg.state_dir;
    o.boot_id = a->boot_id;
    o.keepalive = (int)a->cfg.keepalive;
    o.on_desired = on_desired;
    o.desired_ud = a;
    o.on_command = on_command;
    o.command_ud = a;
    o.session_expiry = a->cfg.session_expiry;
    if (gf_session_new(&o, &a->session) != GF_OK) {
        return 1;
    }
    gf_bundler_session(a->bundler, a->session);
    gf_remote_session(a->remote, a->session);
    return 0;
}

static int run(struct agent *a)
{
    int64_t next_sample = gf_time_mono_us(), reconnect_at = 0;
    int64_t resend_us = gf_agent_resend_ms(&a->cfg) * 1000LL;
    long backoff = BACKOFF_MIN_MS;
    int connecting = 0;

    while (!stop_signal && !atomic_load(&a->restart)) {
        int64_t now = gf_time_mono_us();
        struct gf_session_event ev;

        if (!connecting && !gf_session_connected(a->session) && now >= reconnect_at) {
            connecting = gf_session_connect(a->session) == GF_OK;
            if (!connecting) {
                reconnect_at = now + jitter(backoff) * 1000LL;
            }
        }
        if (now >= next_sample) {
            sample_once(a);
            next_sample += a->cfg.health_interval * 1000000LL;
            if (next_sample < now) {
                next_sample = now + a->cfg.health_interval * 1000000LL;
            }
        }
        if (gf_session_connected(a->session) &&
            (a->sent_us == 0 || now - a->sent_us > resend_us)) {
            send_batch(a);
        }
        long wait_ms = (long)((next_sample - gf_time_mono_us()) / 1000);
        gf_session_wait(a->session, wait_ms < 1 ? 1 : wait_ms > 500 ? 500 : (int)wait_ms, &ev);
        serve_remote(a);
        gf_remote_tick(a->remote);
        switch (ev.kind) {
        case GF_SEV_CONNECTED:
            connecting = 0;
            backoff = BACKOFF_MIN_MS;
            a->sent_us = 0; /* resend whatever was in flight on the old connection */
            send_birth(a);
            gf_remote_connected(a->remote);
            break;
        case GF_SEV_LOST:
            connecting = 0;
            a->sent_us = 0;
            reconnect_at = gf_time_mono_us() + jitter(backoff) * 1000LL;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            break;
        case GF_SEV_AUTH: {
            /* Credentials or a publish refused: ask the server again (rotated, or we are
             * rejected). */
            connecting = 0;
            gf_session_drop(a->session);
            int rc = enroll(a, 1);
            if (rc != 0) {
                return rc;
            }
            gf_bundler_session(a->bundler, NULL);
            gf_remote_session(a->remote, NULL);
            gf_session_free(a->session);
            a->session = NULL;
            if (open_session(a) != 0) {
                return 1;
            }
            reconnect_at = gf_time_mono_us() + jitter(backoff) * 1000LL;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            break;
        }
        case GF_SEV_ACK:
            if (a->sent_us != 0 && strcmp(ev.boot_id, a->batch.boot_id) == 0 &&
                ev.seq >= a->batch.last_id) {
                if (gf_spool_ack(a->spool, a->batch.last_id) != GF_OK) {
                    gf_log_error("cannot record the ack in the spool", "seq=%llu",
                                 (unsigned long long)ev.seq);
                }
                a->sent_us = 0;
                if (gf_session_connected(a->session)) {
                    send_batch(a); /* the backlog goes out without waiting */
                }
            }
            break;
        case GF_SEV_STATUS_ACK:
            gf_bundler_status_acked(a->bundler, ev.seq, ev.state);
            break;
        case GF_SEV_CMD_ACK:
            gf_remote_result_acked(a->remote, ev.id);
            break;
        case GF_SEV_NONE:
            break;
        }
    }
    gf_log_info(atomic_load(&a->restart) ? "restarting (agent.restart)" : "stopping",
                "signal=%d", (int)stop_signal);
    gf_session_close(a->session);
    return 0;
}

int main(int argc, char **argv)
{
    static struct agent a;
    struct gf_diag diag;
    struct gf_spool_opts so = {0};
    enum gf_log_level level = GF_LOG_INFO;
    int argi = 1, print = 0, rc = 1;

    /* A few threads (bundles, paho's), little memory each: two malloc arenas, not 8 per core. */
    mallopt(M_ARENA_MAX, 2);
    if (argc > 1 && strcmp(argv[1], "config-docs") == 0) {
        gf_conf_print_markdown(&gf_agent_config_table, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("gatefleet-agent %s\n", GF_VERSION);
        return 0;
    }
    gf_diag_clear(&diag);
    if (gf_agent_config_load(&a.cfg, argc, argv, &argi, &print, &diag) != GF_OK) {
        fprintf(stderr, "gatefleet-agent: configuration error: %s\n", diag.msg);
        return 2;
    }
    if (print) {
        gf_conf_print(&gf_agent_config_table, &a.cfg, stdout);
        gf_agent_config_free(&a.cfg);
        return 0;
    }
    if (argi < argc) {
        fprintf(stderr, "gatefleet-agent: unknown argument \"%s\"\n", argv[argi]);
        gf_agent_config_free(&a.cfg);
        return 2;
    }
    if (a.cfg.server_url == NULL) {
        fprintf(stderr, "gatefleet-agent: configuration error: server_url is required\n");
        gf_agent_config_free(&a.cfg);
        return 2;
    }
    gf_log_parse_level(a.cfg.log_level, &level);
    gf_log_set_level(level);
    if (sodium_init() < 0) {
        fprintf(stderr, "gatefleet-agent: cannot initialise libsodium\n");
        gf_agent_config_free(&a.cfg);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mkdir(a.cfg.state_dir, 0700);
    a.roots.procfs = a.cfg.procfs_root;
    a.roots.sysfs = a.cfg.sysfs_root;
    a.roots.mounts_root = "";
    gf_boot_id(&a.roots, a.boot_id, sizeof(a.boot_id));
    gf_buf_init(&a.rec, 256u * 1024u);
    gf_buf_init(&a.batch.payload, GF_BATCH_BYTES * 2);
    if (gf_identity_load(a.cfg.state_dir, &a.id, NULL, &diag) != GF_OK) {
        gf_log_error("cannot load the identity", "where=%s error=\"%s\"", diag.where, diag.msg);
        goto out;
    }
    if (gf_collect_init_all(a.states) != GF_OK) {
        goto out;
    }
    if ((rc = enroll(&a, 0)) != 0 || stop_signal) {
        goto out;
    }
    char spool_dir[1024];
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", a.cfg.state_dir);
    so.dir = spool_dir;
    so.max_bytes = (uint64_t)a.cfg.spool_max_bytes;
    so.segment_bytes = (uint32_t)(so.max_bytes / 16 > 1048576 ? 1048576 : so.max_bytes / 16);
    if (so.segment_bytes < 4096) {
        so.segment_bytes = 4096;
    }
    so.max_record = so.segment_bytes;
    so.sync = a.cfg.spool_fsync ? GF_SPOOL_SYNC_ALWAYS : GF_SPOOL_SYNC_NONE;
    rc = 1;
    if (gf_spool_open(&so, &a.spool, &diag) != GF_OK) {
        gf_log_error("cannot open the spool", "where=%s error=\"%s\"", diag.where, diag.msg);
        goto out;
    }
    struct gf_bundler_opts bo = {&a.cfg, a.id, a.node.node_id, NULL};
    if (gf_bundler_start(&bo, &a.bundler, &diag) != GF_OK) {
        gf_log_error("cannot start the bundle thread", "where=%s error=\"%s\"", diag.where,
                     diag.msg);
        rc = 2;
        goto out;
    }
    if (gf_remote_new(&a.cfg, a.bundler, on_restart, &a, &a.remote, &diag) != GF_OK) {
        gf_log_error("cannot start commands and log streams", "where=%s error=\"%s\"",
                     diag.where, diag.msg);
        rc = 2;
        goto out;
    }
    if (open_session(&a) != 0) {
        gf_log_error("bad broker URL", "url=%s", a.cfg.broker_url ? a.cfg.broker_url : a.node.url);
        goto out;
    }
    gf_log_info("running", "node=%s boot=%s interval_s=%ld", a.node.node_id, a.boot_id,
                a.cfg.health_interval);
    rc = run(&a);
out:
    /* paho's threads call into remote and bundler (on_command, on_desired) and their threads
     * publish on the session: so detach the session from them first (each returns once no
     * publish on it is in progress), then free it. MQTTAsync_destroy takes the lock paho
     * holds while it runs a callback and unregisters the client, so a callback in progress
     * ends first and none comes after, connect in flight or not. Then stop remote and bundler. */
    if (a.session != NULL) {
        gf_bundler_session(a.bundler, NULL);
        gf_remote_session(a.remote, NULL);
        gf_session_free(a.session);
        a.session = NULL;
    }
    gf_remote_free(a.remote);
    gf_bundler_stop(a.bundler);
    gf_spool_close(a.spool);
    json_decref(a.last_sample);
    gf_collect_free_all(a.states);
    gf_identity_free(a.id);
    gf_buf_free(&a.rec);
    gf_buf_free(&a.batch.payload);
    memset(&a.node, 0, sizeof(a.node));
    gf_agent_config_free(&a.cfg);
    if (rc == 0 && atomic_load(&a.restart)) {
        /* agent.restart: the same program and arguments, as a fresh process image. */
        execv("/proc/self/exe", argv);
        fprintf(stderr, "gatefleet-agent: cannot restart: exec failed\n");
        return 1;
    }
    return rc;
}
