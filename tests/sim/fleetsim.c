/* SPDX-License-Identifier: Apache-2.0
 *
 * fleetsim.c - the fleet simulator: thousands of virtual agents from one process, each a
 * real MQTT 5 connection speaking the agent contract of docs/mqtt.md (birth, health
 * batches with per-boot sequence numbers, one batch in flight until the server's `ack`,
 * resend after a timeout). A minimal MQTT 5 client over non-blocking sockets and one epoll
 * loop keeps the simulator itself far from being the bottleneck.
 *
 *   fleetsim --creds FILE --broker HOST:PORT [--interval-ms 1000] [--duration 30]
 *            [--warmup 5] [--mode ingest|echo] [--sink USER:PASSWORD] [--max-batch 100]
 *
 * FILE has one node per line: "<node_id> <password>" (the bench script enrolls them).
 * Every node makes a sample each interval and sends its unacknowledged samples as one
 * batch when none is in flight (at most --max-batch records). What acknowledges differs:
 * ingest: gatefleet-server, after COMMIT; the figure is samples acknowledged per second,
 *         i.e. committed to PostgreSQL.
 * echo:   the broker-only ceiling: a sink connection in this process (--sink, an account
 *         that may read gf/v1/n/+/health and publish acks) acknowledges every batch at
 *         once and does nothing else, so the same load meets a subscriber that does nothing.
 * Acks for another boot id (an earlier run) are ignored. --mode sink runs the sink alone
 * (no --creds), so the ceiling run can give it a process, as the server has.
 * Prints one JSON object with the counts and rates of the measured window (after warmup).
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 20000
#define RBUF 65536        /* a node reads acks only */
#define SINK_RBUF (4u << 20) /* the sink reads whole batches */
#define WBUF (256 * 1024)       /* a node's send buffer */
#define SINK_WBUF (64u << 20)  /* the sink's: acks for every node */
#define SAMPLE_BYTES 640

enum state { S_CONNECTING, S_CONNACK, S_READY, S_DEAD };

struct node {
    int fd;
    enum state st;
    char id[40], pw[64];
    unsigned char *rbuf;
    size_t rcap, rlen;
    unsigned char *wbuf;
    size_t wlen;
    uint16_t pid;
    int sink;
    /* protocol state */
    uint64_t seq;        /* last sample made */
    uint64_t acked;      /* highest seq acknowledged by the server */
    uint64_t sent_upto;  /* last seq of the batch in flight, 0 = none */
    int64_t sent_at_us;
    int64_t next_sample_us;
    int inflight_pubacks;
    int want_out; /* EPOLLOUT registered */
};

static struct node *nodes;
static int nnodes;
static int epfd;
static char host[64] = "127.0.0.1";
static int port = 1883;
static long interval_ms = 1000;
static int max_batch = 100;
static int echo, sink_only;
static char boot[40];
static char sample[SAMPLE_BYTES + 1];
static uint64_t made, acked_samples, sink_samples, batches_sent, resends, publishes, wfull;
static int64_t window_start, window_end;
static uint64_t made_w, acked_w, sink_w;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int in_window(void)
{
    int64_t t = now_us();
    return t >= window_start && t < window_end;
}

/* ------------------------------------------------------------------ encoding */

static size_t put_varint(unsigned char *p, size_t v)
{
    size_t n = 0;
    do {
        unsigned char b = v % 128;
        v /= 128;
        p[n++] = (unsigned char)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static size_t put_str(unsigned char *p, const char *s, size_t len)
{
    p[0] = (unsigned char)(len >> 8);
    p[1] = (unsigned char)len;
    memcpy(p + 2, s, len);
    return len + 2;
}

static void enqueue(struct node *n, const unsigned char *p, size_t len)
{
    if (n->wlen + len > (n->sink ? SINK_WBUF : WBUF)) {
        wfull++; /* the broker does not read: drop (the protocol's resend covers it) */
        return;
    }
    memcpy(n->wbuf + n->wlen, p, len);
    n->wlen += len;
}

static void flush(struct node *n)
{
    while (n->wlen > 0) {
        ssize_t w = send(n->fd, n->wbuf, n->wlen, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                n->st = S_DEAD;
            }
            break;
        }
        memmove(n->wbuf, n->wbuf + w, n->wlen - (size_t)w);
        n->wlen -= (size_t)w;
    }
    int want = n->wlen > 0;
    if (want != n->want_out) {
        struct epoll_event ev = {EPOLLIN | (want ? EPOLLOUT : 0), {.ptr = n}};
        epoll_ctl(epfd, EPOLL_CTL_MOD, n->fd, &ev);
        n->want_out = want;
    }
}

static void send_packet(struct node *n, unsigned char type, const unsigned char *body, size_t len)
{
    unsigned char hdr[8];
    size_t h = 0;
    hdr[h++] = type;
    h += put_varint(hdr + h, len);
    enqueue(n, hdr, h);
    enqueue(n, body, len);
}

static void send_connect(struct node *n, const char *user, const char *pw)
{
    unsigned char b[512];
    size_t l = 0;
    l += put_str(b + l, "MQTT", 4);
    b[l++] = 5;
    b[l++] = 0x80 | 0x40 | 0x02; /* username, password, clean start */
    b[l++] = 0;
    b[l++] = 60; /* keepalive */
    b[l++] = 0;  /* properties */
    l += put_str(b + l, n->sink ? "fleetsim-sink" : n->id, n->sink ? 13 : strlen(n->id));
    l += put_str(b + l, user, strlen(user));
    l += put_str(b + l, pw, strlen(pw));
    send_packet(n, 0x10, b, l);
}

static void send_subscribe(struct node *n, const char *filter)
{
    unsigned char b[300];
    size_t l = 0;
    n->pid = (uint16_t)(n->pid + 1 ? n->pid + 1 : 1);
    b[l++] = (unsigned char)(n->pid >> 8);
    b[l++] = (unsigned char)n->pid;
    b[l++] = 0;
    l += put_str(b + l, filter, strlen(filter));
    b[l++] = 1;
    send_packet(n, 0x82, b, l);
}

static void publish(struct node *n, const char *topic, const char *payload, size_t plen)
{
    static unsigned char b[WBUF];
    size_t l = 0;
    n->pid = (uint16_t)(n->pid + 1 ? n->pid + 1 : 1);
    l += put_str(b + l, topic, strlen(topic));
    b[l++] = (unsigned char)(n->pid >> 8);
    b[l++] = (unsigned char)n->pid;
    b[l++] = 0;
    if (l + plen > sizeof(b)) {
        return;
    }
    memcpy(b + l, payload, plen);
    send_packet(n, 0x32, b, l + plen);
    n->inflight_pubacks++;
    publishes++;
}

/* QoS 0 publish (the sink's acks: no PUBACK flow to respect the broker's receive maximum;
 * this makes the ceiling slightly optimistic, so the measured ratio errs low). */
static void publish0(struct node *n, const char *topic, const char *payload, size_t plen)
{
    unsigned char b[512];
    size_t l = put_str(b, topic, strlen(topic));
    b[l++] = 0;
    if (l + plen > sizeof(b)) {
        return;
    }
    memcpy(b + l, payload, plen);
    send_packet(n, 0x30, b, l + plen);
}

/* ------------------------------------------------------------------ agent protocol */

static void send_birth(struct node *n)
{
    char topic[96], body[512];
    int len = snprintf(body, sizeof(body),
                       "{\"boot_id\":\"%s\",\"session\":1,\"agent_version\":\"fleetsim\","
                       "\"inventory\":{\"hostname\":\"sim-%.8s\",\"arch\":\"x86_64\"},"
                       "\"health_interval\":%ld,\"keepalive\":60}",
                       boot, n->id, interval_ms / 1000 ? interval_ms / 1000 : 1);
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/birth", n->id);
    publish(n, topic, body, (size_t)len);
}

static void send_batch(struct node *n)
{
    static char body[WBUF];
    char topic[96], at[64];
    struct timespec ts;
    struct tm tm;
    uint64_t from = n->acked + 1, to = n->seq;

    if (to < from) {
        return;
    }
    if (to - from + 1 > (uint64_t)max_batch) {
        to = from + (uint64_t)max_batch - 1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(ts.tv_nsec / 1000000) % 1000);
    size_t l = (size_t)snprintf(body, sizeof(body), "{\"boot_id\":\"%s\",\"session\":1,"
                                "\"dropped\":0,\"records\":[", boot);
    for (uint64_t s = from; s <= to && l + SAMPLE_BYTES + 100 < sizeof(body); s++) {
        l += (size_t)snprintf(body + l, sizeof(body) - l, "%s{\"seq\":%llu,\"at\":\"%s\","
                              "\"sample\":%s}", s == from ? "" : ",", (unsigned long long)s,
                              at, sample);
    }
    l += (size_t)snprintf(body + l, sizeof(body) - l, "]}");
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/health", n->id);
    publish(n, topic, body, l);
    n->sent_upto = to;
    n->sent_at_us = now_us();
    batches_sent++;
}

static void on_ack(struct node *n, const char *payload, size_t len)
{
    char buf[256];
    const char *p;

    snprintf(buf, sizeof(buf), "%.*s", (int)(len < 255 ? len : 255), payload);
    if ((p = strstr(buf, "\"seq\":")) == NULL || strstr(buf, boot) == NULL) {
        return;
    }
    uint64_t seq = strtoull(p + 6, NULL, 10);
    if (seq > n->acked) {
        uint64_t delta = seq - n->acked;
        acked_samples += delta;
        if (in_window()) {
            acked_w += delta;
        }
        n->acked = seq;
    }
    if (n->sent_upto != 0 && seq >= n->sent_upto) {
        n->sent_upto = 0;
        if (n->seq > n->acked) {
            send_batch(n);
        }
    }
}

/* ------------------------------------------------------------------ packets in */

static void handle_packet(struct node *n, unsigned char type, const unsigned char *p, size_t len)
{
    switch (type >> 4) {
    case 2: /* CONNACK */
        if (len < 2 || p[1] != 0) {
            fprintf(stderr, "fleetsim: %s refused (reason 0x%02x)\n", n->id, len >= 2 ? p[1] : 0);
            n->st = S_DEAD;
            return;
        }
        n->st = S_READY;
        if (n->sink) {
            send_subscribe(n, "$share/fleetsim/gf/v1/n/+/health");
        } else {
            char f[96];
            snprintf(f, sizeof(f), "gf/v1/n/%s/ack", n->id);
            send_subscribe(n, f);
            if (!echo) {
                send_birth(n);
            }
        }
        break;
    case 3: { /* PUBLISH in: ack (node) or health (sink) */
        int qos = (type >> 1) & 3;
        size_t tl = (size_t)p[0] << 8 | p[1], off = 2 + tl;
        uint16_t pid = 0;
        if (qos > 0) {
            pid = (uint16_t)(p[off] << 8 | p[off + 1]);
            off += 2;
        }
        size_t pl = 0, mul = 1, i = off; /* properties length */
        do {
            pl += (p[i] & 127) * mul;
            mul *= 128;
        } while (p[i++] & 128);
        off = i + pl;
        if (n->sink) {
            /* acknowledge the batch: its node from the topic, its last seq */
            const char *topic = (const char *)p + 2;
            uint64_t recs = 0, last = 0;
            for (size_t k = off; k + 6 < len; k++) {
                if (p[k] == '"' && memcmp(p + k, "\"seq\":", 6) == 0) {
                    recs++;
                    last = strtoull((const char *)p + k + 6, NULL, 10);
                }
            }
            sink_samples += recs;
            if (in_window()) {
                sink_w += recs;
            }
            if (tl > 8 + 36 && memcmp(topic, "gf/v1/n/", 8) == 0) {
                char at[96], body[128];
                snprintf(at, sizeof(at), "gf/v1/n/%.36s/ack", topic + 8);
                /* the boot id of the batch (the nodes may live in another process) */
                char bid[40] = "";
                const unsigned char *bp = memmem(p + off, len - off, "\"boot_id\":\"", 11);
                if (bp != NULL) {
                    size_t bl0 = strcspn((const char *)bp + 11, "\"");
                    snprintf(bid, sizeof(bid), "%.*s", (int)(bl0 < 39 ? bl0 : 39),
                             (const char *)bp + 11);
                }
                int bl = snprintf(body, sizeof(body), "{\"boot_id\":\"%s\",\"seq\":%llu}", bid,
                                  (unsigned long long)last);
                publish0(n, at, body, (size_t)bl);
            }
        } else {
            on_ack(n, (const char *)p + off, len - off);
        }
        if (qos == 1) {
            unsigned char b[2] = {(unsigned char)(pid >> 8), (unsigned char)pid};
            send_packet(n, 0x40, b, 2);
        }
        break;
    }
    case 4: /* PUBACK */
        if (len >= 3 && p[2] >= 0x80) {
            fprintf(stderr, "fleetsim: %s publish refused (reason 0x%02x)\n", n->id, p[2]);
        }
        n->inflight_pubacks--;
        break;
    default:
        break;
    }
}

static void on_readable(struct node *n)
{
    for (;;) {
        ssize_t r = recv(n->fd, n->rbuf + n->rlen, n->rcap - n->rlen, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            if (n->st != S_DEAD) {
                fprintf(stderr, "fleetsim: %s connection closed\n", n->sink ? "sink" : n->id);
            }
            n->st = S_DEAD;
            return;
        }
        if (r < 0) {
            break;
        }
        n->rlen += (size_t)r;
        for (;;) {
            size_t len = 0, mul = 1, i = 1;
            if (n->rlen < 2) {
                break;
            }
            while (i < n->rlen && i < 5) {
                len += (n->rbuf[i] & 127) * mul;
                mul *= 128;
                if (!(n->rbuf[i++] & 128)) {
                    goto have_len;
                }
            }
            break;
        have_len:
            if (n->rlen < i + len) {
                if (i + len > n->rcap) {
                    n->st = S_DEAD;
                    return;
                }
                break;
            }
            handle_packet(n, n->rbuf[0], n->rbuf + i, len);
            memmove(n->rbuf, n->rbuf + i + len, n->rlen - i - len);
            n->rlen -= i + len;
        }
        if (n->rlen == n->rcap) {
            n->st = S_DEAD;
            return;
        }
    }
    if (n->wlen) {
        flush(n);
    }
}

static int open_conn(struct node *n)
{
    struct sockaddr_in a = {0};
    int one = 1;

    n->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        return -1;
    }
    setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(n->fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        return -1;
    }
    n->wbuf = malloc(n->sink ? SINK_WBUF : WBUF);
    n->rcap = n->sink ? SINK_RBUF : RBUF;
    n->rbuf = malloc(n->rcap);
    if (n->wbuf == NULL || n->rbuf == NULL) {
        return -1;
    }
    struct epoll_event ev = {EPOLLIN | EPOLLOUT, {.ptr = n}};
    epoll_ctl(epfd, EPOLL_CTL_ADD, n->fd, &ev);
    n->want_out = 1;
    return 0;
}

static void tick(struct node *n, int64_t t)
{
    if (n->sink || n->st != S_READY) {
        return;
    }
    if (t >= n->next_sample_us) {
        n->next_sample_us += interval_ms * 1000;
        if (n->next_sample_us < t) {
            n->next_sample_us = t + interval_ms * 1000;
        }
        n->seq++;
        made++;
        if (in_window()) {
            made_w++;
        }
        if (n->sent_upto == 0) {
            send_batch(n);
        }
    }
    if (n->sent_upto != 0 && t - n->sent_at_us > 10 * 1000000LL) {
        resends++;
        n->sent_upto = 0;
        send_batch(n);
    }
    if (n->wlen) {
        flush(n);
    }
}

int main(int argc, char **argv)
{
    const char *creds = NULL, *sink = NULL;
    long duration = 30, warmup = 5;
    struct rlimit rl = {65536, 65536};

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--creds") == 0) creds = argv[i + 1];
        else if (strcmp(argv[i], "--broker") == 0) {
            snprintf(host, sizeof(host), "%.*s", (int)strcspn(argv[i + 1], ":"), argv[i + 1]);
            port = (int)strtol(strchr(argv[i + 1], ':') ? strchr(argv[i + 1], ':') + 1 : "1883",
                               NULL, 10);
        } else if (strcmp(argv[i], "--interval-ms") == 0) interval_ms = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--duration") == 0) duration = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--mode") == 0) {
            echo = strcmp(argv[i + 1], "echo") == 0;
            sink_only = strcmp(argv[i + 1], "sink") == 0;
        }
        else if (strcmp(argv[i], "--sink") == 0) sink = argv[i + 1];
        else if (strcmp(argv[i], "--max-batch") == 0) max_batch = (int)strtol(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "fleetsim: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if ((creds == NULL && !sink_only) || ((echo || sink_only) && sink == NULL) ||
        interval_ms < 1) {
        fprintf(stderr, "usage: fleetsim --creds FILE --broker HOST:PORT [--interval-ms N] "
                        "[--duration S] [--warmup S] [--mode ingest|echo] [--sink USER:PW]\n");
        return 2;
    }
    setrlimit(RLIMIT_NOFILE, &rl);
    nodes = calloc(MAX_NODES + 1, sizeof(*nodes));
    FILE *f = sink_only ? NULL : fopen(creds, "r");
    if ((f == NULL && !sink_only) || nodes == NULL) {
        perror("fleetsim: creds");
        return 1;
    }
    while (f != NULL && nnodes < MAX_NODES &&
           fscanf(f, "%39s %63s", nodes[nnodes].id, nodes[nnodes].pw) == 2) {
        nnodes++;
    }
    if (f != NULL) {
        fclose(f);
    }
    /* a plausible health sample of about SAMPLE_BYTES */
    snprintf(sample, sizeof(sample),
             "{\"cpu\":{\"cores\":4,\"usage_pct\":23.5,\"load1\":0.52,\"load5\":0.58,"
             "\"load15\":0.59},\"memory\":{\"total_bytes\":4102107136,\"available_bytes\":"
             "2563817472,\"used_pct\":37.5},\"disk\":{\"mounts\":[{\"mount\":\"/\",\"fs\":"
             "\"ext4\",\"read_only\":false,\"total_bytes\":31036686336,\"free_bytes\":"
             "18249662464,\"used_pct\":41.2}]},\"power\":{\"mains_online\":true,"
             "\"on_battery\":false},\"link\":{\"default_route\":true,\"interfaces\":[{\"name\":"
             "\"eth0\",\"operstate\":\"up\",\"carrier\":true,\"speed_mbps\":1000,\"rx_bytes\":"
             "123456789,\"tx_bytes\":98765432,\"rx_errors\":0,\"tx_errors\":0}]},\"thermal\":"
             "{\"zones\":[{\"zone\":\"thermal_zone0\",\"temp_c\":45.5}]},\"uptime\":{\"seconds\":"
             "86400}}");
    snprintf(boot, sizeof(boot), "sim-%08lx-%04x", (unsigned long)time(NULL),
             (unsigned)getpid() & 0xffff);
    epfd = epoll_create1(0);
    int64_t t0 = now_us();
    for (int i = 0; i < nnodes; i++) {
        nodes[i].next_sample_us = t0 + (int64_t)(rand() % (interval_ms * 1000));
        if (open_conn(&nodes[i]) != 0) {
            fprintf(stderr, "fleetsim: cannot open connection %d\n", i);
            return 1;
        }
        send_connect(&nodes[i], nodes[i].id, nodes[i].pw);
    }
    if (sink != NULL) {
        struct node *s = &nodes[nnodes];
        char user[64], pw[128];
        s->sink = 1;
        snprintf(user, sizeof(user), "%.*s", (int)strcspn(sink, ":"), sink);
        snprintf(pw, sizeof(pw), "%s", strchr(sink, ':') ? strchr(sink, ':') + 1 : "");
        if (open_conn(s) != 0) {
            fprintf(stderr, "fleetsim: cannot open the sink connection\n");
            return 1;
        }
        send_connect(s, user, pw);
    }
    window_start = t0 + warmup * 1000000;
    window_end = window_start + duration * 1000000;
    struct epoll_event evs[512];
    while (now_us() < window_end) {
        int k = epoll_wait(epfd, evs, 512, 1);
        for (int e = 0; e < k; e++) {
            struct node *n = evs[e].data.ptr;
            if (evs[e].events & EPOLLIN) {
                on_readable(n);
            }
            if (evs[e].events & EPOLLOUT) {
                flush(n);
            }
        }
        int64_t t = now_us();
        for (int i = 0; i < nnodes; i++) {
            tick(&nodes[i], t);
        }
    }
    int ready = 0;
    for (int i = 0; i < nnodes; i++) {
        ready += nodes[i].st == S_READY;
    }
    double secs = (double)duration;
    printf("{\"mode\":\"%s\",\"nodes\":%d,\"connected\":%d,\"interval_ms\":%ld,"
           "\"window_s\":%ld,\"samples_made\":%llu,\"samples_acked\":%llu,"
           "\"samples_sunk\":%llu,\"made_per_s\":%.0f,\"acked_per_s\":%.0f,"
           "\"sunk_per_s\":%.0f,\"backlog\":%llu,\"batches\":%llu,\"resends\":%llu,"
           "\"write_drops\":%llu,\"boot_id\":\"%s\"}\n",
           sink_only ? "sink" : echo ? "echo" : "ingest", nnodes, ready, interval_ms, duration,
           (unsigned long long)made, (unsigned long long)acked_samples,
           (unsigned long long)sink_samples, (double)made_w / secs, (double)acked_w / secs, (double)sink_w / secs,
           (unsigned long long)(made - acked_samples), (unsigned long long)batches_sent,
           (unsigned long long)resends, (unsigned long long)wfull, boot);
    return 0;
}
