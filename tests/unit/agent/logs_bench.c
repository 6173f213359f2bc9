/* SPDX-License-Identifier: Apache-2.0
 *
 * logs_bench.c - throughput driver for the agent's log streams (agent/logs/), not a test.
 *
 * A writer process appends numbered lines ("000000000042 xxxx...") to a file at full speed
 * (or --write-rate lines/s) for --seconds; this process follows the file with one log stream
 * through the real chunker and a publish callback that checks every line number arrives once
 * and in order, and optionally refuses chunks (like a broker outage) between --outage A:B
 * milliseconds. At the end it waits for the stream to catch up and prints lines written,
 * shipped, reported dropped, lost (neither shipped nor reported), lines/s shipped, and this
 * process's CPU seconds (the writer is a child process, not counted). A CPU cap applies to
 * the whole process tree, so to cap the shipper alone run a `--write-only` process and a
 * `--ship-only` one on the same --file, and cap the second, e.g.
 * `systemd-run --scope -p CPUQuota=25% logs_bench --ship-only --file F --seconds 70`.
 *
 *   logs_bench [--file PATH] [--seconds N] [--line-bytes N] [--write-rate N]
 *              [--rate-lines N] [--rate-bytes N] [--outage A:B] [--write-only | --ship-only]
 *
 * Rate limits default to the agent's defaults (50000 lines/s, 4 MiB/s per stream); 0 means
 * unlimited.
 */
#include "logs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIGITS 12

struct bench {
    long seconds, line_bytes, write_rate, rate_lines, rate_bytes;
    long outage_from, outage_to;
    const char *file;
    int write_only, ship_only;
    /* publisher state (streams thread) */
    int64_t t0;
    unsigned long long next; /* line number expected next */
    unsigned long long shipped;
    unsigned long long disorder; /* lines with another number than expected */
    unsigned long long refused;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Check the numbers of the lines of one chunk: after "lines":[ each element starts with
 * DIGITS digits, and holds no quote (digits, a blank and 'x'). */
static enum gf_err publish(void *ud, const char *id, const char *json, size_t len)
{
    struct bench *b = ud;
    const char *p = json, *end = json + len;
    int64_t t = now_ms() - b->t0;

    (void)id;
    if (t >= b->outage_from && t < b->outage_to) {
        b->refused++;
        return GF_ERR_UNAVAILABLE;
    }
    p = strstr(json, "\"lines\":[");
    if (p == NULL || p > end) {
        return GF_OK;
    }
    p += 9;
    while (p < end && *p == '"') {
        unsigned long long n = 0;
        const char *q = p + 1;
        for (int i = 0; i < DIGITS && q < end && *q >= '0' && *q <= '9'; i++, q++) {
            n = n * 10 + (unsigned long long)(*q - '0');
        }
        b->disorder += n != b->next;
        b->next = n + 1;
        b->shipped++;
        q = memchr(q, '"', (size_t)(end - q));
        if (q == NULL) {
            break;
        }
        p = q + 1;
        if (p < end && *p == ',') {
            p++;
        }
    }
    return GF_OK;
}

/* Append lines for b->seconds; returns how many. */
static unsigned long long write_lines(const struct bench *b)
{
    int fd = open(b->file, O_WRONLY | O_CREAT | O_APPEND, 0644);
    size_t ll = (size_t)b->line_bytes, per = 65536 / ll, off;
    char *buf = malloc(per * ll);
    unsigned long long n = 0;
    int64_t t0 = now_ms(), until = t0 + b->seconds * 1000;

    if (fd < 0 || buf == NULL || ll < DIGITS + 2) {
        perror("writer");
        exit(2);
    }
    while (now_ms() < until) {
        for (off = 0; off < per * ll; off += ll) {
            char num[DIGITS + 2];
            snprintf(num, sizeof(num), "%0*llu ", DIGITS, n++);
            memcpy(buf + off, num, DIGITS + 1);
            memset(buf + off + DIGITS + 1, 'x', ll - DIGITS - 2);
            buf[off + ll - 1] = '\n';
        }
        if (write(fd, buf, per * ll) != (ssize_t)(per * ll)) {
            perror("write");
            exit(2);
        }
        if (b->write_rate > 0) {
            int64_t due = t0 + (int64_t)(n * 1000 / (unsigned long long)b->write_rate);
            while (now_ms() < due) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
        }
    }
    close(fd);
    free(buf);
    return n;
}

static long num_arg(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0) {
        fprintf(stderr, "bad number: %s\n", s);
        exit(2);
    }
    return v;
}

static void parse(struct bench *b, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--write-only") == 0 || strcmp(a, "--ship-only") == 0) {
            *(a[2] == 'w' ? &b->write_only : &b->ship_only) = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "usage: see the comment at the top of logs_bench.c\n");
            exit(2);
        }
        i++;
        if (strcmp(a, "--file") == 0) {
            b->file = v;
        } else if (strcmp(a, "--seconds") == 0) {
            b->seconds = num_arg(v);
        } else if (strcmp(a, "--line-bytes") == 0) {
            b->line_bytes = num_arg(v);
        } else if (strcmp(a, "--write-rate") == 0) {
            b->write_rate = num_arg(v);
        } else if (strcmp(a, "--rate-lines") == 0) {
            b->rate_lines = num_arg(v);
        } else if (strcmp(a, "--rate-bytes") == 0) {
            b->rate_bytes = num_arg(v);
        } else if (strcmp(a, "--outage") == 0) {
            const char *colon = strchr(v, ':');
            char from[32];
            if (colon == NULL || (size_t)(colon - v) >= sizeof(from)) {
                fprintf(stderr, "--outage A:B (milliseconds)\n");
                exit(2);
            }
            memcpy(from, v, (size_t)(colon - v));
            from[colon - v] = '\0';
            b->outage_from = num_arg(from);
            b->outage_to = num_arg(colon + 1);
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            exit(2);
        }
    }
}

/* Follow b->file until the writer (pid, or none) is done and the stream caught up. */
static int ship(struct bench *b, pid_t pid, int rfd)
{
    struct gf_logs_opts o;
    struct gf_logs *ls = NULL;
    struct gf_logs_req r;
    struct gf_logs_stats st;
    struct gf_diag d;
    unsigned long long written = 0;
    int64_t t_end, t_done;
    double c0 = cpu_s(), cpu;

    memset(&o, 0, sizeof(o));
    o.files = b->file;
    o.rate_lines = b->rate_lines > 0 ? b->rate_lines : 1000000000L;
    o.rate_bytes = b->rate_bytes > 0 ? b->rate_bytes : 1L << 40;
    o.streams_max = 1;
    o.publish = publish;
    o.ud = b;
    memset(&r, 0, sizeof(r));
    snprintf(r.stream_id, sizeof(r.stream_id), "bench");
    r.path = b->file;
    r.follow = 1;
    r.max_duration_ms = GF_LOGS_DURATION_MAX;
    b->t0 = now_ms();
    if (gf_logs_new(&o, &ls, &d) != GF_OK || gf_logs_start(ls, &r, &d) != GF_OK) {
        fprintf(stderr, "logs: %s: %s\n", d.where, d.msg);
        return 2;
    }
    if (pid > 0) {
        int status;
        if (read(rfd, &written, sizeof(written)) != (ssize_t)sizeof(written)) {
            written = 0;
        }
        waitpid(pid, &status, 0);
    } else {
        struct timespec ts = {b->seconds, 0};
        nanosleep(&ts, NULL);
    }
    t_end = now_ms();
    t_done = t_end;
    for (;;) { /* catch up: at most 120 s after the writer stopped */
        gf_logs_stats(ls, &st);
        if (pid <= 0 || st.lines + st.dropped >= written || now_ms() - t_end > 120000) {
            break;
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        t_done = now_ms();
    }
    cpu = cpu_s() - c0;
    gf_logs_stats(ls, &st);
    gf_logs_free(ls);
    printf("written %llu lines of %ld bytes in %ld s%s\n", written, b->line_bytes, b->seconds,
           pid > 0 ? "" : " (by another process)");
    printf("shipped %llu lines in %llu chunks (%.1f MB of JSON), dropped (reported) %llu, "
           "out of order %llu, refused chunks %llu\n",
           b->shipped, (unsigned long long)st.chunks, (double)st.bytes / 1e6,
           (unsigned long long)st.dropped, b->disorder, b->refused);
    if (pid > 0) {
        printf("lost (neither shipped nor reported) %lld\n",
               (long long)written - (long long)b->shipped - (long long)st.dropped);
    }
    printf("%.0f lines/s shipped over %.2f s; CPU %.2f s (%.2f of one core)\n",
           (double)b->shipped * 1000.0 / (double)(t_done - b->t0),
           (double)(t_done - b->t0) / 1000.0, cpu, cpu * 1000.0 / (double)(t_done - b->t0));
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b;
    char tmp[256];
    int p[2] = {-1, -1};
    pid_t pid = -1;
    int rc;

    memset(&b, 0, sizeof(b));
    b.seconds = 10;
    b.line_bytes = 100;
    b.rate_lines = 50000;
    b.rate_bytes = 4L * 1024 * 1024;
    b.outage_from = b.outage_to = -1;
    parse(&b, argc, argv);
    if (b.file == NULL) {
        snprintf(tmp, sizeof(tmp), "/tmp/logs_bench.%ld.log", (long)getpid());
        b.file = tmp;
    }
    if (b.write_only) {
        printf("written %llu lines\n", write_lines(&b));
        return 0;
    }
    close(open(b.file, O_WRONLY | O_CREAT | (b.ship_only ? 0 : O_TRUNC), 0644));
    if (!b.ship_only) {
        if (pipe(p) != 0 || (pid = fork()) < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            unsigned long long n = write_lines(&b);
            _exit(write(p[1], &n, sizeof(n)) == (ssize_t)sizeof(n) ? 0 : 1);
        }
        close(p[1]);
    }
    rc = ship(&b, pid, p[0]);
    if (!b.ship_only) {
        close(p[0]);
        unlink(b.file);
    }
    return rc;
}
