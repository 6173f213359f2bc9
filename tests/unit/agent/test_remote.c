/* SPDX-License-Identifier: Apache-2.0
 *
 * test_remote.c - remote.c's session pointer against re-enrollment, under the sanitizers.
 * Two threads send requests that are answered at once on the calling thread (log-stream
 * requests with bad arguments: rejected, so a result is published), and one kicks the queue
 * of unsent results (gf_remote_connected), while the main thread keeps doing what main.c
 * does on re-enrollment: a new session in, then gf_remote_session(NULL) and gf_session_free.
 * The sessions never connect (publishes fail and results are kept), which is enough: each
 * publish still reads the session. Before gf_remote_session waited for the publishes in
 * progress, ASan reported a heap-use-after-free here within a few thousand swaps (every
 * run). It is a stress test for the sanitizer builds: a pass is evidence, not proof.
 */
#include "config.h"
#include "gf_test.h"
#include "log.h"
#include "remote.h"
#include "session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUN_MS 1500

static atomic_int stop;
static atomic_long requests;

static long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void *requester(void *ud)
{
    static const char req[] = "{\"id\":\"r1\",\"name\":\"logs.stream.stop\",\"args\":{}}";

    while (!atomic_load(&stop)) {
        gf_remote_request(ud, req, sizeof(req) - 1, -1);
        atomic_fetch_add(&requests, 1);
    }
    return NULL;
}

static void *flusher(void *ud)
{
    while (!atomic_load(&stop)) {
        gf_remote_connected(ud);
    }
    return NULL;
}

static void restart_hook(void *ud)
{
    (void)ud;
}

int main(void)
{
    char dir[] = "/tmp/gf_test_remote_XXXXXX";
    struct gf_agent_config cfg;
    struct gf_session_opts so;
    struct gf_remote *r = NULL;
    struct gf_diag d;
    pthread_t th[3];
    long swaps = 0;

    gf_log_set_level(GF_LOG_ERROR); /* every kept result past the cap is logged */
    CHECK(mkdtemp(dir) != NULL);
    memset(&cfg, 0, sizeof(cfg));
    cfg.state_dir = dir;
    cfg.commands_max_running = 2;
    cfg.commands_output_max = 4096;
    cfg.log_rate_lines = 100;
    cfg.log_rate_bytes = 65536;
    cfg.log_streams_max = 2;
    gf_diag_clear(&d);
    CHECK(gf_remote_new(&cfg, NULL, restart_hook, NULL, &r, &d) == GF_OK);
    if (r == NULL) {
        fprintf(stderr, "gf_remote_new: %s: %s\n", d.where, d.msg);
        return gf_test_summary("test_remote");
    }
    memset(&so, 0, sizeof(so));
    so.url = "mqtt://127.0.0.1:1";
    so.client_id = "test-remote";
    so.username = "u";
    so.password = "p";
    so.topic_root = "gf/test/";
    so.state_dir = dir;
    so.boot_id = "boot";
    so.keepalive = 30;
    pthread_create(&th[0], NULL, requester, r);
    pthread_create(&th[1], NULL, requester, r);
    pthread_create(&th[2], NULL, flusher, r);
    for (long until = mono_ms() + RUN_MS; mono_ms() < until; swaps++) {
        struct gf_session *s = NULL;
        CHECK(gf_session_new(&so, &s) == GF_OK);
        gf_remote_session(r, s);
        for (volatile int i = 0; i < 200; i++) { /* let the publishers find it */
        }
        gf_remote_session(r, NULL); /* re-enrollment: detach, then free */
        gf_session_free(s);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
    }
    gf_remote_free(r);
    printf("swaps=%ld requests=%ld\n", swaps, atomic_load(&requests));
    CHECK(swaps > 100);
    CHECK(atomic_load(&requests) > 100);
    char path[600];
    snprintf(path, sizeof(path), "%s/session", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/commands.seen", dir);
    unlink(path);
    rmdir(dir);
    return gf_test_summary("test_remote");
}
