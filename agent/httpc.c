/* SPDX-License-Identifier: Apache-2.0
 *
 * httpc.c - one HTTP/1.1 request on one connection (see httpc.h): parse the URL, pick the
 * proxy from the environment, connect (httpc_conn.c), open a CONNECT tunnel through the proxy
 * for https, TLS, then write the request head and body and feed what comes back to the
 * response parser (httpc_resp.c) until the answer is complete. The request head is built in
 * a bounded buffer; header lines from the caller are checked so nothing can be smuggled into
 * it. Logs only the method, host and status at debug level: never headers or bodies.
 */
#define GF_LOG_MODULE "httpc"

#include "httpc.h"

#include "alloc.h"
#include "buf.h"
#include "httpc_int.h"
#include "log.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define READ_CHUNK (16u * 1024u)
#define HEAD_MAX (GF_LIMIT_URL_BYTES + 8u * 1024u) /* request line + headers we send */

#ifndef GF_VERSION
#define GF_VERSION "dev"
#endif

/* "host:port", with [] around IPv6 literals. */
static void host_port(const struct gf_httpc_url *u, int always_port, char *out, size_t cap)
{
    int dflt = u->port == (u->tls ? 443u : 80u);

    snprintf(out, cap, "%s%s%s", u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "");
    if (always_port || !dflt) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, ":%u", u->port);
    }
}

/* Every line "Name: value\r\n", name a token, no CR or LF elsewhere, no NUL. */
static int headers_valid(const char *h)
{
    while (*h) {
        size_t n = strcspn(h, "\r\n"), name = strcspn(h, ":\r\n");
        if (n == 0 || name == 0 || name >= n || strncmp(h + n, "\r\n", 2) != 0) {
            return 0;
        }
        for (size_t i = 0; i < name; i++) {
            if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '_') {
                return 0;
            }
        }
        h += n + 2;
    }
    return 1;
}

/* Proxy-Authorization: Basic base64(user:password), when the proxy URL had user info. */
static enum gf_err proxy_auth(struct gf_buf *b, const struct gf_httpc_url *proxy)
{
    char plain[2 * GF_HTTPC_USERINFO_MAX + 2];
    unsigned char enc[((sizeof(plain) + 2) / 3) * 4 + 1];

    if (proxy->user[0] == '\0') {
        return GF_OK;
    }
    int n = snprintf(plain, sizeof(plain), "%s:%s", proxy->user, proxy->password);
    EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
    enum gf_err err = gf_buf_printf(b, "Proxy-Authorization: Basic %s\r\n", (const char *)enc);
    memset(plain, 0, sizeof(plain));
    memset(enc, 0, sizeof(enc));
    return err;
}

/* The request head. proxy: non-NULL for http:// through a proxy (absolute form). */
static enum gf_err build_head(struct gf_buf *b, const struct gf_httpc_req *req,
                              const struct gf_httpc_url *u, const struct gf_httpc_url *proxy)
{
    char host[GF_HTTPC_HOST_MAX + 16];
    enum gf_err err;

    host_port(u, 0, host, sizeof(host));
    if ((err = gf_buf_printf(b, "%s %s%s%s HTTP/1.1\r\nHost: %s\r\n", req->method,
                             proxy ? "http://" : "", proxy ? host : "", u->path, host)) != GF_OK ||
        (err = gf_buf_puts(b, "User-Agent: gatefleet-agent/" GF_VERSION
                              "\r\nAccept: */*\r\nConnection: close\r\n")) != GF_OK) {
        return err;
    }
    if (proxy != NULL && (err = proxy_auth(b, proxy)) != GF_OK) {
        return err;
    }
    if (req->body != NULL &&
        (err = gf_buf_printf(b, "Content-Length: %zu\r\n", req->body_len)) != GF_OK) {
        return err;
    }
    if (req->headers != NULL && (err = gf_buf_puts(b, req->headers)) != GF_OK) {
        return err;
    }
    return gf_buf_puts(b, "\r\n");
}

/* Read and parse until the answer is complete. */
static enum gf_err read_answer(struct gf_httpc_conn *c, struct gf_httpc_resp *r, char *buf,
                               struct gf_httpc_result *res)
{
    enum gf_err err = GF_OK;

    while (!gf_httpc_resp_done(r)) {
        size_t got = 0, used = 0;
        if ((err = gf_httpc_conn_read(c, buf, READ_CHUNK, &got)) != GF_OK) {
            return err;
        }
        if (got == 0) {
            if (gf_httpc_resp_until_close(r) && !gf_httpc_conn_clean_eof(c)) {
                snprintf(res->error, sizeof(res->error),
                         "TLS closed without close_notify: "
                         "the answer may be cut");
                return GF_ERR_UNAVAILABLE;
            }
            if ((err = gf_httpc_resp_eof(r)) != GF_OK) {
                snprintf(res->error, sizeof(res->error),
                         "connection closed before the end "
                         "of the answer");
            }
            return err;
        }
        if ((err = gf_httpc_resp_feed(r, buf, got, &used)) != GF_OK) {
            if (err == GF_ERR_PARSE || err == GF_ERR_TOOBIG || err == GF_ERR_INVAL) {
                snprintf(res->error, sizeof(res->error), "malformed answer (%s)", gf_err_str(err));
            } else if (res->error[0] == '\0') {
                snprintf(res->error, sizeof(res->error), "transfer stopped (%s)", gf_err_str(err));
            }
            return err;
        }
    }
    return GF_OK;
}

/* CONNECT target:port through the proxy; a 2xx opens the tunnel. */
static enum gf_err tunnel(struct gf_httpc_conn *c, const struct gf_httpc_url *target,
                          const struct gf_httpc_url *proxy, char *buf, struct gf_httpc_result *res)
{
    char hp[GF_HTTPC_HOST_MAX + 16];
    struct gf_buf b;
    struct gf_httpc_resp *r = NULL;
    enum gf_err err;

    host_port(target, 1, hp, sizeof(hp));
    gf_buf_init(&b, HEAD_MAX);
    if ((err = gf_buf_printf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", hp, hp)) != GF_OK ||
        (err = proxy_auth(&b, proxy)) != GF_OK || (err = gf_buf_puts(&b, "\r\n")) != GF_OK ||
        (err = gf_httpc_resp_new(GF_HTTPC_RESP_CONNECT, NULL, &r)) != GF_OK) {
        goto out;
    }
    if ((err = gf_httpc_conn_write(c, b.data, b.len)) != GF_OK ||
        (err = read_answer(c, r, buf, res)) != GF_OK) {
        goto out;
    }
    long status = gf_httpc_resp_status(r);
    if (status < 200 || status > 299) {
        snprintf(res->error, sizeof(res->error),
                 "proxy %.60s refused the tunnel to %.60s: HTTP %ld", proxy->host, hp, status);
        err = GF_ERR_UNAVAILABLE;
    }
out:
    gf_httpc_resp_free(r);
    if (b.data != NULL) {
        memset(b.data, 0, b.len); /* may hold proxy credentials */
    }
    gf_buf_free(&b);
    return err;
}

/* Connect to the target or the proxy, tunnel and TLS as needed. */
static enum gf_err connect_to(const struct gf_httpc_req *req, const struct gf_httpc_url *u,
                              const struct gf_httpc_url *proxy, char *buf,
                              struct gf_httpc_result *res, struct gf_httpc_conn **out)
{
    const struct gf_httpc_url *hop = proxy ? proxy : u;
    struct gf_httpc_conn *c = NULL;
    enum gf_err err = gf_httpc_conn_open(hop->host, hop->port, req->timeout_s, res->error,
                                         sizeof(res->error), &c);

    if (err == GF_OK && proxy != NULL && u->tls) {
        err = tunnel(c, u, proxy, buf, res);
    }
    if (err == GF_OK && u->tls) {
        err = gf_httpc_conn_tls(c, u->host, u->ip_literal, req->ca_file);
    }
    if (err != GF_OK) {
        gf_httpc_conn_free(c);
        return err;
    }
    gf_httpc_conn_established(c);
    *out = c;
    return GF_OK;
}

static enum gf_err check_req(const struct gf_httpc_req *req, struct gf_httpc_url *u,
                             struct gf_httpc_url *proxy, int *use_proxy,
                             struct gf_httpc_result *res)
{
    struct gf_diag d;
    enum gf_err err;

    gf_diag_clear(&d);
    if (req->method == NULL ||
        (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) ||
        req->timeout_s <= 0 || (req->headers != NULL && !headers_valid(req->headers))) {
        snprintf(res->error, sizeof(res->error), "bad request (method, timeout or headers)");
        return GF_ERR_INVAL;
    }
    if ((err = gf_httpc_url_parse(req->url, 0, u)) != GF_OK) {
        snprintf(res->error, sizeof(res->error), "bad URL (%s)", gf_err_str(err));
        return GF_ERR_INVAL;
    }
    if ((err = gf_httpc_proxy_env(u, proxy, use_proxy, &d)) != GF_OK) {
        snprintf(res->error, sizeof(res->error), "%.150s", d.msg);
    }
    return err;
}

enum gf_err gf_httpc_perform(const struct gf_httpc_req *req, struct gf_httpc_result *res)
{
    struct gf_httpc_url *urls = gf_malloc(2 * sizeof(*urls)); /* target, proxy */
    struct gf_httpc_conn *c = NULL;
    struct gf_httpc_resp *r = NULL;
    char *buf = gf_malloc(READ_CHUNK);
    struct gf_buf head;
    int use_proxy = 0;
    enum gf_err err = GF_ERR_NOMEM;

    res->status = 0;
    res->error[0] = '\0';
    gf_buf_init(&head, HEAD_MAX);
    if (urls != NULL) {
        urls[0].host[0] = '\0';
    }
    if (urls == NULL || buf == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        goto out;
    }
    if ((err = check_req(req, &urls[0], &urls[1], &use_proxy, res)) != GF_OK) {
        goto out;
    }
    const struct gf_httpc_url *proxy = use_proxy ? &urls[1] : NULL;
    if ((err = build_head(&head, req, &urls[0], proxy && !urls[0].tls ? proxy : NULL)) != GF_OK ||
        (err = gf_httpc_resp_new(0, &req->sink, &r)) != GF_OK) {
        snprintf(res->error, sizeof(res->error), "request head: %s", gf_err_str(err));
        goto out;
    }
    if ((err = connect_to(req, &urls[0], proxy, buf, res, &c)) != GF_OK ||
        (err = gf_httpc_conn_write(c, head.data, head.len)) != GF_OK ||
        (req->body != NULL && req->body_len > 0 &&
         (err = gf_httpc_conn_write(c, req->body, req->body_len)) != GF_OK)) {
        goto out;
    }
    err = read_answer(c, r, buf, res);
out:
    if (r != NULL) {
        res->status = gf_httpc_resp_status(r);
    }
    gf_log_debug("request", "method=%s host=%s proxy=%d status=%ld result=\"%s\" error=\"%s\"",
                 req->method ? req->method : "-", urls ? urls[0].host : "-", use_proxy, res->status,
                 gf_err_str(err), res->error);
    gf_httpc_conn_free(c);
    gf_httpc_resp_free(r);
    if (head.data != NULL) {
        memset(head.data, 0, head.len); /* may hold proxy credentials */
    }
    gf_buf_free(&head);
    gf_free(buf);
    gf_free(urls);
    return err;
}
