/* SPDX-License-Identifier: Apache-2.0
 *
 * sim_conn.c - the fleet simulator's MQTT 5 client (see sim.h): just what a virtual agent
 * needs - CONNECT with an optional retained Will, SUBSCRIBE at QoS 1, PUBLISH at QoS 0/1
 * (retained or not), PUBACK, PINGREQ and DISCONNECT out; CONNACK, PUBLISH, PUBACK and
 * DISCONNECT in - over non-blocking sockets registered in the run's epoll set.
 *
 * Packets are encoded in place into the node's send buffer after checking that the whole
 * packet fits (never half a packet); a full buffer drops the packet and counts it in
 * wfull (the agent protocol resends what matters). Incoming packets are framed in the read
 * buffer, checked against their length, and handed to the mode's hooks borrowed.
 *
 * MQTT 5 properties: an incoming PUBLISH's are walked whole (each identifier with its own
 * type, as the spec lists them for PUBLISH), keeping the request's Response Topic,
 * Correlation Data and Message Expiry Interval for the mode; a property a PUBLISH may not
 * carry makes the packet malformed (dropped unacknowledged). Outgoing PUBLISHes carry no
 * properties, except an answer's Correlation Data (gf_sim_publish_corr).
 */
#include "sim.h"

#include "timefmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_MAX 1024 /* a CONNECT packet's body: ids, credentials, a small Will */

int64_t gf_sim_now_us(void)
{
    return gf_time_mono_us();
}

int64_t gf_sim_wall_ms(void)
{
    return gf_time_now_us() / 1000;
}

/* ------------------------------------------------------------------ encoding */

static size_t put_varint(unsigned char *p, size_t v)
{
    size_t n = 0;

    do {
        unsigned char b = (unsigned char)(v % 128);
        v /= 128;
        p[n++] = (unsigned char)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static size_t put_u16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return 2;
}

static size_t put_str(unsigned char *p, const void *s, size_t len)
{
    put_u16(p, len);
    memcpy(p + 2, s, len);
    return len + 2;
}

static uint16_t next_pid(struct gf_sim_node *n)
{
    n->pid = (uint16_t)(n->pid + 1 ? n->pid + 1 : 1);
    return n->pid;
}

/* Room for a packet of remaining length rem (and its fixed header), or count a drop. */
static unsigned char *reserve(struct gf_sim *s, struct gf_sim_node *n, unsigned char type,
                              size_t rem)
{
    unsigned char hdr[5];
    size_t h = 0;

    hdr[h++] = type;
    h += put_varint(hdr + h, rem);
    if (n->wbuf == NULL || n->wlen + h + rem > n->wcap) {
        s->wfull++; /* the broker does not read: drop (the protocol's resend covers it) */
        return NULL;
    }
    memcpy(n->wbuf + n->wlen, hdr, h);
    n->wlen += h + rem;
    n->last_tx_us = gf_sim_now_us();
    return n->wbuf + n->wlen - rem;
}

static void queue(struct gf_sim *s, struct gf_sim_node *n, unsigned char type,
                  const unsigned char *body, size_t len)
{
    unsigned char *w = reserve(s, n, type, len);

    if (w != NULL && len > 0) {
        memcpy(w, body, len);
    }
}

/* A PUBLISH with no properties, or with Correlation Data (corr != NULL). */
static int publish(struct gf_sim *s, struct gf_sim_node *n, const char *topic, const char *payload,
                   size_t plen, int qos, int retain, const void *corr, size_t clen)
{
    unsigned char pl[4]; /* the property length: 3 bytes at most (below 2^21) */
    size_t tlen = strlen(topic), props = corr != NULL && clen <= 0xffff ? 3 + clen : 0;
    size_t pll = put_varint(pl, props);
    size_t rem = 2 + tlen + (qos ? 2u : 0u) + pll + props + plen;
    unsigned char *w;

    if (tlen > 0xffff || (corr != NULL && clen > 0xffff) || rem > GF_SIM_BATCH_MAX + 1024 ||
        (w = reserve(s, n, (unsigned char)(0x30 | (qos ? 2 : 0) | (retain ? 1 : 0)), rem)) ==
            NULL) {
        return -1;
    }
    w += put_str(w, topic, tlen);
    if (qos) {
        w += put_u16(w, next_pid(n));
        n->inflight_pubacks++;
        s->publishes++;
    }
    memcpy(w, pl, pll); /* property length */
    w += pll;
    if (corr != NULL) {
        *w++ = 0x09; /* Correlation Data: binary data */
        w += put_str(w, corr, clen);
    }
    memcpy(w, payload, plen);
    return 0;
}

int gf_sim_publish(struct gf_sim *s, struct gf_sim_node *n, const char *topic, const char *payload,
                   size_t plen, int qos, int retain)
{
    return publish(s, n, topic, payload, plen, qos, retain, NULL, 0);
}

int gf_sim_publish_corr(struct gf_sim *s, struct gf_sim_node *n, const char *topic,
                        const char *payload, size_t plen, int qos, const void *corr, size_t clen)
{
    return publish(s, n, topic, payload, plen, qos, 0, corr, corr != NULL ? clen : 0);
}

void gf_sim_subscribe(struct gf_sim *s, struct gf_sim_node *n, const char *filter)
{
    unsigned char b[300];
    size_t l = 0, flen = strlen(filter);

    if (flen > sizeof(b) - 8) {
        return;
    }
    l += put_u16(b + l, next_pid(n));
    b[l++] = 0; /* no properties */
    l += put_str(b + l, filter, flen);
    b[l++] = 1; /* QoS 1; retained messages sent at subscribe */
    queue(s, n, 0x82, b, l);
}

void gf_sim_ping(struct gf_sim *s, struct gf_sim_node *n)
{
    queue(s, n, 0xc0, NULL, 0);
}

void gf_sim_disconnect(struct gf_sim *s, struct gf_sim_node *n)
{
    queue(s, n, 0xe0, NULL, 0); /* reason 0, normal disconnection: no Will */
}

static int send_connect(struct gf_sim *s, struct gf_sim_node *n, const char *client_id,
                        const char *user, const char *pw, const struct gf_sim_will *will)
{
    unsigned char b[CONNECT_MAX];
    size_t l = 0, cl = strlen(client_id), ul = strlen(user), pl = strlen(pw);
    size_t wt = will ? strlen(will->topic) : 0, wl = will ? will->len : 0;

    if (20 + cl + ul + pl + wt + wl > sizeof(b)) {
        return -1;
    }
    l += put_str(b + l, "MQTT", 4);
    b[l++] = 5;
    /* username, password, clean start; with a Will: retained, QoS 1 */
    b[l++] = (unsigned char)(0x80 | 0x40 | 0x02 | (will ? 0x20 | 0x08 | 0x04 : 0));
    l += put_u16(b + l, (size_t)s->keepalive);
    b[l++] = 0; /* no properties */
    l += put_str(b + l, client_id, cl);
    if (will != NULL) {
        b[l++] = 0; /* no Will properties */
        l += put_str(b + l, will->topic, wt);
        l += put_str(b + l, will->payload, wl);
    }
    l += put_str(b + l, user, ul);
    l += put_str(b + l, pw, pl);
    queue(s, n, 0x10, b, l);
    return 0;
}

/* ------------------------------------------------------------------ the socket */

static void set_dead(struct gf_sim *s, struct gf_sim_node *n)
{
    if (n->fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, n->fd, NULL);
        close(n->fd);
    }
    n->fd = -1;
    n->st = GF_SIM_DEAD;
    n->rlen = n->wlen = 0;
    n->want_out = 0;
    n->inflight_pubacks = 0;
    if (s->hooks->on_lost != NULL) {
        s->hooks->on_lost(s, n);
    }
}

void gf_sim_drop(struct gf_sim *s, struct gf_sim_node *n)
{
    if (n->fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, n->fd, NULL);
        close(n->fd);
    }
    n->fd = -1;
    n->st = GF_SIM_DOWN;
    n->rlen = n->wlen = 0;
    n->want_out = 0;
    n->inflight_pubacks = 0;
}

int gf_sim_connect(struct gf_sim *s, struct gf_sim_node *n, const char *client_id, const char *user,
                   const char *pw, const struct gf_sim_will *will)
{
    struct sockaddr_in a = {0};
    struct epoll_event ev = {0};
    int one = 1;

    if (n->wbuf == NULL || n->rbuf == NULL) {
        n->wcap = n->sink ? n->wcap : s->wcap;
        n->rcap = n->sink ? n->rcap : s->rcap;
        free(n->wbuf);
        free(n->rbuf);
        n->wbuf = malloc(n->wcap);
        n->rbuf = malloc(n->rcap);
        if (n->wbuf == NULL || n->rbuf == NULL) {
            errno = ENOMEM;
            return -1;
        }
    }
    n->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        return -1;
    }
    setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)s->port);
    inet_pton(AF_INET, s->host, &a.sin_addr);
    if (connect(n->fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        gf_sim_drop(s, n);
        return -1;
    }
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = n;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, n->fd, &ev) != 0) {
        gf_sim_drop(s, n);
        return -1;
    }
    n->want_out = 1;
    n->st = GF_SIM_CONNECTING;
    n->rlen = n->wlen = 0;
    n->inflight_pubacks = 0;
    if (send_connect(s, n, client_id, user, pw, will) != 0) {
        gf_sim_drop(s, n);
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

void gf_sim_flush(struct gf_sim *s, struct gf_sim_node *n)
{
    size_t off = 0;

    if (n->fd < 0) {
        return;
    }
    while (off < n->wlen) {
        ssize_t w = send(n->fd, n->wbuf + off, n->wlen - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                set_dead(s, n);
                return;
            }
            break;
        }
        off += (size_t)w;
    }
    memmove(n->wbuf, n->wbuf + off, n->wlen - off);
    n->wlen -= off;
    int want = n->wlen > 0;
    if (want != n->want_out) {
        struct epoll_event ev = {0};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.ptr = n;
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, n->fd, &ev);
        n->want_out = want;
    }
}

/* ------------------------------------------------------------------ packets in */

/* A variable byte integer at p[*i], below end. 0, or -1 when malformed or cut. */
static int get_varint(const unsigned char *p, size_t end, size_t *i, size_t *out)
{
    size_t v = 0, mul = 1;

    for (int k = 0; k < 4; k++) {
        if (*i >= end) {
            return -1;
        }
        unsigned char b = p[(*i)++];
        v += (size_t)(b & 127) * mul;
        if (!(b & 128)) {
            *out = v;
            return 0;
        }
        mul *= 128;
    }
    return -1;
}

/* A length-prefixed string or binary property at p[*i], below end, into *out and *len. */
static int get_bin(const unsigned char *p, size_t end, size_t *i, const unsigned char **out,
                   size_t *len)
{
    if (*i + 2 > end) {
        return -1;
    }
    size_t l = (size_t)p[*i] << 8 | p[*i + 1];
    if (*i + 2 + l > end) {
        return -1;
    }
    *out = p + *i + 2;
    *len = l;
    *i += 2 + l;
    return 0;
}

/* Skip a fixed-size property value of k bytes. */
static int skip(size_t end, size_t *i, size_t k)
{
    if (*i + k > end) {
        return -1;
    }
    *i += k;
    return 0;
}

/* The properties of a PUBLISH, p[i..end): what a request carries into m. 0, or -1 when
 * malformed or holding a property a PUBLISH may not carry. */
static int publish_props(const unsigned char *p, size_t i, size_t end, struct gf_sim_msg *m)
{
    const unsigned char *v;
    size_t id, l;
    int rc = 0;

    m->expiry_s = -1;
    while (rc == 0 && i < end) {
        if (get_varint(p, end, &i, &id) != 0) {
            return -1;
        }
        switch (id) {
        case 0x01: /* Payload Format Indicator: byte */
            rc = skip(end, &i, 1);
            break;
        case 0x02: /* Message Expiry Interval: four byte integer */
            if ((rc = skip(end, &i, 4)) == 0) {
                m->expiry_s = (int64_t)((uint32_t)p[i - 4] << 24 | (uint32_t)p[i - 3] << 16 |
                                        (uint32_t)p[i - 2] << 8 | p[i - 1]);
            }
            break;
        case 0x23: /* Topic Alias: two byte integer */
            rc = skip(end, &i, 2);
            break;
        case 0x0b: /* Subscription Identifier: variable byte integer */
            rc = get_varint(p, end, &i, &l);
            break;
        case 0x03: /* Content Type: UTF-8 string */
            rc = get_bin(p, end, &i, &v, &l);
            break;
        case 0x08: /* Response Topic: UTF-8 string */
            if ((rc = get_bin(p, end, &i, &v, &l)) == 0) {
                m->resp_topic = (const char *)v;
                m->resp_len = l;
            }
            break;
        case 0x09: /* Correlation Data: binary data */
            if ((rc = get_bin(p, end, &i, &v, &l)) == 0) {
                m->corr = v;
                m->corr_len = l;
            }
            break;
        case 0x26: /* User Property: a string pair */
            rc = get_bin(p, end, &i, &v, &l) != 0 || get_bin(p, end, &i, &v, &l) != 0 ? -1 : 0;
            break;
        default:
            return -1;
        }
    }
    return rc;
}

/* A PUBLISH: hand it to the mode, acknowledge it. 1 when the mode dropped the connection. */
static int on_publish(struct gf_sim *s, struct gf_sim_node *n, unsigned char type,
                      const unsigned char *p, size_t len)
{
    struct gf_sim_msg m = {0};
    size_t off, pl = 0;
    uint16_t pid = 0;

    m.qos = (type >> 1) & 3;
    m.retain = type & 1;
    if (len < 2 || (off = 2 + ((size_t)p[0] << 8 | p[1])) > len) {
        s->malformed++;
        return 0;
    }
    m.topic = (const char *)p + 2;
    m.tlen = off - 2;
    if (m.qos > 0) {
        if (off + 2 > len) {
            s->malformed++;
            return 0;
        }
        pid = (uint16_t)(p[off] << 8 | p[off + 1]);
        off += 2;
    }
    if (get_varint(p, len, &off, &pl) != 0 || off + pl > len ||
        publish_props(p, off, off + pl, &m) != 0) {
        s->malformed++;
        return 0;
    }
    off += pl;
    m.payload = p + off;
    m.plen = len - off;
    if (s->hooks->on_publish(s, n, &m) != 0) {
        return 1;
    }
    if (m.qos == 1) {
        unsigned char b[2] = {(unsigned char)(pid >> 8), (unsigned char)pid};
        queue(s, n, 0x40, b, 2);
    }
    return 0;
}

/* One whole packet. 1 when the connection is gone afterwards. */
static int handle_packet(struct gf_sim *s, struct gf_sim_node *n, unsigned char type,
                         const unsigned char *p, size_t len)
{
    switch (type >> 4) {
    case 2: /* CONNACK */
        if (len < 2 || p[1] != 0) {
            gf_sim_drop(s, n); /* refused: the mode decides whether to try again */
            s->hooks->on_connack(s, n, 0, len >= 2 ? p[1] : 0);
            return 1;
        }
        n->st = GF_SIM_READY;
        s->hooks->on_connack(s, n, 1, 0);
        return n->fd < 0;
    case 3:
        return on_publish(s, n, type, p, len);
    case 4: /* PUBACK */
        if (len >= 3 && p[2] >= 0x80) {
            fprintf(stderr, "fleetsim: %s publish refused (reason 0x%02x)\n", n->id, p[2]);
            s->publish_refused++;
        }
        n->inflight_pubacks--;
        return 0;
    case 9: /* SUBACK */
        if (len >= 4 && p[3] >= 0x80) {
            fprintf(stderr, "fleetsim: %s subscription refused (reason 0x%02x)\n", n->id, p[3]);
        }
        return 0;
    case 14: /* DISCONNECT from the broker */
        fprintf(stderr, "fleetsim: %s disconnected by the broker (reason 0x%02x)\n", n->id,
                len >= 1 ? p[0] : 0);
        set_dead(s, n);
        return 1;
    default: /* PINGRESP, ... */
        return 0;
    }
}

/* Dispatch the whole packets in the read buffer. 1 when the connection is gone. */
static int drain(struct gf_sim *s, struct gf_sim_node *n)
{
    size_t off = 0;
    int gone = 0;

    while (!gone && n->rlen - off >= 2) {
        size_t i = off + 1, len = 0;
        if (get_varint(n->rbuf, n->rlen, &i, &len) != 0) {
            if (n->rlen - off >= 5) {
                set_dead(s, n); /* malformed length */
                return 1;
            }
            break;
        }
        if (i + len > n->rlen) {
            if (i - off + len > n->rcap) {
                fprintf(stderr, "fleetsim: %s packet of %zu bytes exceeds the read buffer\n", n->id,
                        len);
                set_dead(s, n);
                return 1;
            }
            break;
        }
        gone = handle_packet(s, n, n->rbuf[off], n->rbuf + i, len);
        off = i + len;
    }
    if (gone) {
        return 1;
    }
    memmove(n->rbuf, n->rbuf + off, n->rlen - off);
    n->rlen -= off;
    return 0;
}

void gf_sim_readable(struct gf_sim *s, struct gf_sim_node *n)
{
    while (n->fd >= 0) {
        ssize_t r = recv(n->fd, n->rbuf + n->rlen, n->rcap - n->rlen, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            set_dead(s, n);
            return;
        }
        if (r < 0) {
            break;
        }
        n->rlen += (size_t)r;
        if (drain(s, n) != 0) {
            return;
        }
    }
    if (n->fd >= 0 && n->wlen) {
        gf_sim_flush(s, n);
    }
}
