/* SPDX-License-Identifier: Apache-2.0
 *
 * httpc_conn.c - the connection under the agent's HTTP client (see httpc_int.h): getaddrinfo,
 * a non-blocking connect to each address in turn sharing the 15 s connect budget, then
 * poll()-driven reads and writes, plain or through OpenSSL. Every wait is bounded by the
 * request's deadline (and the connect deadline until the connection is established) and
 * checks the low-speed rule: fewer than 64 B/s on average over a 60 s window aborts.
 *
 * TLS: a fresh SSL_CTX per connection (nothing stays resident between requests), TLS 1.2 at
 * least, peer verification against ca_file or the system store, the host name (or IP address)
 * checked by OpenSSL's X509_VERIFY_PARAM, SNI for names. OpenSSL talks to the socket through a
 * tiny BIO of ours that sends with MSG_NOSIGNAL, so a peer that goes away mid-write never
 * raises SIGPIPE, whatever the process's signal dispositions.
 */
#include "httpc_int.h"

#include "alloc.h"
#include "httpc.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define US 1000000LL
#define LOW_SPEED_WINDOW_US (GF_HTTPC_LOW_SPEED_TIME_S * US)

struct gf_httpc_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int connecting;  /* the connect deadline applies */
    int tls_up;      /* handshake done */
    int unclean_eof; /* TLS peer closed without close_notify */
    long timeout_s;
    int64_t deadline_us; /* whole request */
    int64_t connect_deadline_us;
    int64_t speed_mark_us; /* start of the low-speed window */
    uint64_t speed_bytes;  /* moved since speed_mark_us */
    char *err;             /* borrowed: the caller's error line */
    size_t cap;
};

static void seterr(struct gf_httpc_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void seterr(struct gf_httpc_conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, c->cap, fmt, ap);
    va_end(ap);
}

/* Wait until the socket is ready for events, within the deadlines and the low-speed rule. */
static enum gf_err wait_io(struct gf_httpc_conn *c, short events)
{
    for (;;) {
        int64_t now = gf_time_mono_us(), until = c->deadline_us;
        int connect_limit = c->connecting && c->connect_deadline_us < until;

        if (connect_limit) {
            until = c->connect_deadline_us;
        }
        if (now >= until) {
            seterr(c, "%s timed out after %ld s", connect_limit ? "connection" : "request",
                   connect_limit ? (long)GF_HTTPC_CONNECT_TIMEOUT_S : c->timeout_s);
            return GF_ERR_TIMEOUT;
        }
        if (now - c->speed_mark_us >= LOW_SPEED_WINDOW_US) {
            if (c->speed_bytes < (uint64_t)GF_HTTPC_LOW_SPEED_BYTES * GF_HTTPC_LOW_SPEED_TIME_S) {
                seterr(c, "transfer slower than %d B/s for %d s", GF_HTTPC_LOW_SPEED_BYTES,
                       GF_HTTPC_LOW_SPEED_TIME_S);
                return GF_ERR_TIMEOUT;
            }
            c->speed_mark_us = now;
            c->speed_bytes = 0;
        }
        if (c->speed_mark_us + LOW_SPEED_WINDOW_US < until) {
            until = c->speed_mark_us + LOW_SPEED_WINDOW_US;
        }
        struct pollfd pfd = {c->fd, events, 0};
        int rc = poll(&pfd, 1, (int)((until - now + 999) / 1000));
        if (rc > 0) {
            return GF_OK; /* POLLERR / POLLHUP too: the next call says what happened */
        }
        if (rc < 0 && errno != EINTR) {
            seterr(c, "poll: %s", strerror(errno));
            return GF_ERR_UNAVAILABLE;
        }
    }
}

/* ------------------------------------------------------------------ connect */

static void addr_text(const struct addrinfo *ai, char *out, size_t cap)
{
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) !=
        0) {
        snprintf(out, cap, "?");
    }
}

/* One address; it may use its share (1/left) of what remains of the connect budget. */
static enum gf_err try_connect(struct gf_httpc_conn *c, const struct addrinfo *ai, unsigned port,
                               long left)
{
    char addr[INET6_ADDRSTRLEN + 1];
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int soerr = 0, one = 1;
    socklen_t len = sizeof(soerr);
    enum gf_err err = GF_ERR_UNAVAILABLE;

    addr_text(ai, addr, sizeof(addr));
    if (fd < 0) {
        seterr(c, "socket: %s", strerror(errno));
        return GF_ERR_UNAVAILABLE;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        seterr(c, "connect to %s port %u: %s", addr, port, strerror(errno));
        goto out;
    }
    int64_t now = gf_time_mono_us();
    int64_t saved = c->connect_deadline_us;
    c->fd = fd;
    c->connect_deadline_us = now + (saved - now) / left;
    err = wait_io(c, POLLOUT);
    c->connect_deadline_us = saved;
    c->fd = -1;
    if (err != GF_OK) {
        if (err == GF_ERR_TIMEOUT) {
            seterr(c, "connect to %s port %u timed out", addr, port);
        }
        goto out;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        seterr(c, "connect to %s port %u: %s", addr, port, strerror(soerr ? soerr : errno));
        err = GF_ERR_UNAVAILABLE;
        goto out;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    fd = -1;
    err = GF_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

enum gf_err gf_httpc_conn_open(const char *host, unsigned port, long timeout_s, char *err,
                               size_t cap, struct gf_httpc_conn **out)
{
    struct gf_httpc_conn *c = gf_calloc(1, sizeof(*c));
    struct addrinfo hints, *res = NULL;
    char service[8];
    enum gf_err e = GF_ERR_UNAVAILABLE;
    long n = 0;

    if (c == NULL) {
        snprintf(err, cap, "out of memory");
        return GF_ERR_NOMEM;
    }
    int64_t now = gf_time_mono_us();
    c->fd = -1;
    c->err = err;
    c->cap = cap;
    c->connecting = 1;
    c->timeout_s = timeout_s;
    c->deadline_us = now + timeout_s * US;
    c->connect_deadline_us = now + GF_HTTPC_CONNECT_TIMEOUT_S * US;
    c->speed_mark_us = now;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        seterr(c, "cannot resolve %s: %s", host,
               rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        goto out;
    }
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        n++;
    }
    for (const struct addrinfo *ai = res; ai != NULL && e != GF_OK; ai = ai->ai_next, n--) {
        e = try_connect(c, ai, port, n);
    }
out:
    if (res != NULL) {
        freeaddrinfo(res);
    }
    if (e != GF_OK) {
        gf_httpc_conn_free(c);
        return e;
    }
    *out = c;
    return GF_OK;
}

void gf_httpc_conn_established(struct gf_httpc_conn *c)
{
    c->connecting = 0;
    c->speed_mark_us = gf_time_mono_us();
    c->speed_bytes = 0;
}

/* ------------------------------------------------------------------ TLS */

static pthread_once_t bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *bio_method; /* lives as long as the process */

static int bio_write(BIO *b, const char *p, int n)
{
    const int *fd = BIO_get_data(b);
    ssize_t w = send(*fd, p, (size_t)n, MSG_NOSIGNAL);

    BIO_clear_retry_flags(b);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(b);
    }
    return (int)w;
}

static int bio_read(BIO *b, char *p, int n)
{
    const int *fd = BIO_get_data(b);
    ssize_t r = recv(*fd, p, (size_t)n, 0);

    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(b);
    }
    return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gf_httpc socket");

    if (m != NULL && BIO_meth_set_write(m, bio_write) == 1 && BIO_meth_set_read(m, bio_read) == 1 &&
        BIO_meth_set_ctrl(m, bio_ctrl) == 1 && BIO_meth_set_create(m, bio_create) == 1) {
        bio_method = m;
    } else {
        BIO_meth_free(m);
    }
}

/* The reason of a failed TLS call (e: SSL_get_error) into the error line. */
static enum gf_err tls_error(struct gf_httpc_conn *c, const char *what, int e)
{
    char text[120];
    long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    unsigned long code = ERR_peek_last_error();

    if (!c->tls_up && verify != X509_V_OK) {
        seterr(c, "%s: certificate verify failed: %s", what, X509_verify_cert_error_string(verify));
        return GF_ERR_CRYPTO;
    }
    if (e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL && code == 0)) {
        seterr(c, "%s: connection broken (%s)", what, errno ? strerror(errno) : "closed");
        return GF_ERR_UNAVAILABLE;
    }
    ERR_error_string_n(code, text, sizeof(text));
    seterr(c, "%s: %s", what, text);
    return GF_ERR_CRYPTO;
}

static enum gf_err tls_setup(struct gf_httpc_conn *c, const char *host, int ip_literal,
                             const char *ca_file)
{
    char text[120];

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL || SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1) {
        seterr(c, "cannot create a TLS context");
        return GF_ERR_NOMEM;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file != NULL ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1
                        : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        ERR_error_string_n(ERR_peek_last_error(), text, sizeof(text));
        seterr(c, "cannot load %s: %s", ca_file ? ca_file : "the system CA store", text);
        return GF_ERR_CRYPTO;
    }
    c->ssl = SSL_new(c->ctx);
    BIO *b = c->ssl ? BIO_new(bio_method) : NULL;
    if (b == NULL) {
        seterr(c, "cannot create a TLS session");
        return GF_ERR_NOMEM;
    }
    BIO_set_data(b, &c->fd);
    SSL_set_bio(c->ssl, b, b);
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if ((ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                    : X509_VERIFY_PARAM_set1_host(vp, host, 0)) != 1 ||
        (!ip_literal && SSL_set_tlsext_host_name(c->ssl, host) != 1)) {
        seterr(c, "cannot set the TLS peer name %s", host);
        return GF_ERR_CRYPTO;
    }
    return GF_OK;
}

enum gf_err gf_httpc_conn_tls(struct gf_httpc_conn *c, const char *host, int ip_literal,
                              const char *ca_file)
{
    enum gf_err err;

    ERR_clear_error();
    pthread_once(&bio_once, bio_method_init);
    if (bio_method == NULL) {
        seterr(c, "cannot create the TLS socket method");
        return GF_ERR_NOMEM;
    }
    if ((err = tls_setup(c, host, ip_literal, ca_file)) != GF_OK) {
        return err;
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(c->ssl);
        if (rc == 1) {
            c->tls_up = 1;
            return GF_OK;
        }
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            err = wait_io(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
        } else {
            err = tls_error(c, "TLS handshake", e);
        }
        if (err != GF_OK) {
            return err;
        }
    }
}

/* ------------------------------------------------------------------ I/O */

enum gf_err gf_httpc_conn_write(struct gf_httpc_conn *c, const void *p, size_t n)
{
    const char *s = p;
    size_t off = 0;
    enum gf_err err = GF_OK;

    while (off < n && err == GF_OK) {
        size_t w = 0;
        if (c->ssl != NULL) {
            ERR_clear_error();
            errno = 0;
            int rc = SSL_write_ex(c->ssl, s + off, n - off, &w);
            int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                err = wait_io(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
            } else if (e != SSL_ERROR_NONE) {
                err = tls_error(c, "send", e);
            }
        } else {
            ssize_t r = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
            if (r >= 0) {
                w = (size_t)r;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                err = wait_io(c, POLLOUT);
            } else if (errno != EINTR) {
                seterr(c, "send: %s", strerror(errno));
                err = GF_ERR_UNAVAILABLE;
            }
        }
        off += w;
        c->speed_bytes += w;
    }
    return err;
}

/* One SSL_read_ex: 1 with *got set (0: the peer closed), 0 to wait (err set), -1 on error. */
static int tls_read(struct gf_httpc_conn *c, void *buf, size_t cap, size_t *got, enum gf_err *err)
{
    size_t n = 0;

    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(c->ssl, buf, cap, &n) == 1) {
        *got = n;
        return 1;
    }
    int e = SSL_get_error(c->ssl, 0);
    unsigned long code = ERR_peek_error();
    if (e == SSL_ERROR_ZERO_RETURN ||
        (e == SSL_ERROR_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
        (e == SSL_ERROR_SYSCALL && code == 0 && errno == 0)) {
        c->unclean_eof = e != SSL_ERROR_ZERO_RETURN;
        ERR_clear_error();
        *got = 0;
        return 1;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *err = wait_io(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
        return 0;
    }
    *err = tls_error(c, "receive", e);
    return -1;
}

enum gf_err gf_httpc_conn_read(struct gf_httpc_conn *c, void *buf, size_t cap, size_t *got)
{
    enum gf_err err = GF_OK;

    while (err == GF_OK) {
        size_t n = 0;
        if (c->ssl != NULL) {
            int rc = tls_read(c, buf, cap, &n, &err);
            if (rc < 0) {
                return err;
            }
            if (rc == 0) {
                continue;
            }
        } else {
            ssize_t r = recv(c->fd, buf, cap, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    err = wait_io(c, POLLIN);
                } else if (errno != EINTR) {
                    seterr(c, "receive: %s", strerror(errno));
                    err = GF_ERR_UNAVAILABLE;
                }
                continue;
            }
            n = (size_t)r;
        }
        c->speed_bytes += n;
        *got = n;
        return GF_OK;
    }
    return err;
}

int gf_httpc_conn_clean_eof(const struct gf_httpc_conn *c)
{
    return !c->unclean_eof;
}

void gf_httpc_conn_free(struct gf_httpc_conn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->ssl != NULL) {
        if (c->tls_up && !c->unclean_eof) {
            SSL_shutdown(c->ssl); /* close_notify, best effort: never waits */
        }
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0) {
        close(c->fd);
    }
    gf_free(c);
}
