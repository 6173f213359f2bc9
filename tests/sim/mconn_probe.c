/* SPDX-License-Identifier: Apache-2.0
 *
 * mconn_probe.c - one of the server's MQTT sessions (server/mqtt/conn.c) driven from stdin,
 * so that tests/integration/test_mconn.py can put its publish accounting through what a
 * broker does to it (hanging with publishes unacknowledged, dying, coming back empty) with
 * the real paho and a real mosquitto.
 *
 * Usage: mconn_probe --url URL --user NAME --password PW --client-id ID
 * One command per line on stdin, one answer line each on stdout:
 *   connects N MS     wait up to MS ms for the N-th connect   -> "connects <n>"
 *   publish N SIZE    N QoS 1 publishes of SIZE bytes on probe/<client id>, no window
 *                                                             -> "published <ok> <refused>"
 *   window MAX MS     gf_mconn_window(MAX, MS)                -> "window ok|timeout"
 *   flush MS          gf_mconn_flush(MS)                      -> "flush ok|timeout"
 *   late              gf_mconn_late                           -> "late <n>"
 *   quit
 */
#include "../../server/mqtt/conn.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBE_PAYLOAD_MAX (64 * 1024)

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *ok_or_timeout(enum gf_err err)
{
    return err == GF_OK ? "ok" : "timeout";
}

/* "word N M" -> word (NUL-terminated in place), *a = N, *b = M (0 when absent). */
static char *parse(char *line, long *a, long *b)
{
    char *p = line, *end;

    while (*p != '\0' && *p != ' ' && *p != '\n') {
        p++;
    }
    *a = *p == ' ' ? strtol(p + 1, &end, 10) : 0;
    *b = *p == ' ' ? strtol(end, NULL, 10) : 0;
    *p = '\0';
    return line;
}

static void run(struct gf_mconn *c, const char *topic)
{
    static char payload[PROBE_PAYLOAD_MAX];
    char line[256];
    long a, b;

    memset(payload, 'x', sizeof(payload));
    while (fgets(line, sizeof(line), stdin) != NULL) {
        const char *cmd = parse(line, &a, &b);
        if (strcmp(cmd, "connects") == 0) {
            for (long waited = 0; waited < b && (long)gf_mconn_connects(c) < a; waited += 10) {
                sleep_ms(10);
            }
            printf("connects %u\n", gf_mconn_connects(c));
        } else if (strcmp(cmd, "publish") == 0) {
            long ok = 0;
            size_t len = b < 0 ? 0 : b > PROBE_PAYLOAD_MAX ? PROBE_PAYLOAD_MAX : (size_t)b;
            for (long i = 0; i < a; i++) {
                ok += gf_mconn_publish(c, topic, payload, len, 1, 0) == GF_OK;
            }
            printf("published %ld %ld\n", ok, a - ok);
        } else if (strcmp(cmd, "window") == 0) {
            printf("window %s\n", ok_or_timeout(gf_mconn_window(c, (unsigned long)a, b)));
        } else if (strcmp(cmd, "flush") == 0) {
            printf("flush %s\n", ok_or_timeout(gf_mconn_flush(c, a)));
        } else if (strcmp(cmd, "late") == 0) {
            printf("late %lu\n", gf_mconn_late(c));
        } else if (strcmp(cmd, "quit") == 0) {
            break;
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    struct gf_mconn_opts o = {0};
    struct gf_mconn *c = NULL;
    char topic[128];

    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--url") == 0) {
            o.url = v;
        } else if (strcmp(k, "--user") == 0) {
            o.username = v;
        } else if (strcmp(k, "--password") == 0) {
            o.password = v;
        } else if (strcmp(k, "--client-id") == 0) {
            o.client_id = v;
        }
    }
    if (o.url == NULL || o.username == NULL || o.password == NULL || o.client_id == NULL) {
        fprintf(stderr, "usage: mconn_probe --url URL --user NAME --password PW --client-id ID\n");
        return 2;
    }
    o.clean_start = 1;
    o.keepalive = 30;
    o.label = "probe";
    snprintf(topic, sizeof(topic), "probe/%s", o.client_id);
    gf_log_set_level(GF_LOG_DEBUG);
    if (gf_mconn_start(&o, &c) != GF_OK) {
        fprintf(stderr, "mconn_probe: cannot start the session\n");
        return 1;
    }
    run(c, topic);
    gf_mconn_stop(c);
    return 0;
}
