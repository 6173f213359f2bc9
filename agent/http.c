/* SPDX-License-Identifier: Apache-2.0
 *
 * http.c - signed requests to the server (see http.h), over the agent's HTTP client
 * (httpc.h). The body sink of a signed GET writes to a capped buffer or appends to a file,
 * restarts the file when a 200 ignores the Range, and aborts the transfer past the cap or on
 * a write error; the header hook keeps the server's clock offset from every Date header.
 */
#define GF_LOG_MODULE "http"

#include "http.h"

#include "config.h"
#include "identity.h"
#include "ids.h"
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define OFFSET_LOG_S 60 /* log when the offset moves by more than this */
#define GET_TIMEOUT_S 300L

static atomic_long server_offset_s;

long gf_http_offset(void)
{
    return atomic_load(&server_offset_s);
}

void gf_http_on_header(void *ud, const char *name, const char *value)
{
    time_t server;

    (void)ud;
    if (strcasecmp(name, "Date") != 0 || gf_httpc_date_parse(value, &server) != GF_OK) {
        return;
    }
    long offset = (long)(server - time(NULL));
    long old = atomic_exchange(&server_offset_s, offset);
    if (labs(offset - old) > OFFSET_LOG_S) {
        gf_log_warn("local clock differs from the server's; signing with the server's time",
                    "offset_s=%ld", offset);
    }
}

enum gf_err gf_http_headers_add(struct gf_http_headers *h, const char *name, const char *value)
{
    size_t need = strlen(name) + strlen(value) + 4;

    if (strpbrk(name, "\r\n") != NULL || strpbrk(value, "\r\n") != NULL) {
        return GF_ERR_INVAL;
    }
    if (h->len + need >= sizeof(h->text)) {
        return GF_ERR_TOOBIG;
    }
    snprintf(h->text + h->len, sizeof(h->text) - h->len, "%s: %s\r\n", name, value);
    h->len += need;
    return GF_OK;
}

enum gf_err gf_http_sign_headers(struct gf_http_headers *h, const struct gf_identity *id,
                                 const char *node_id, const char *method, const char *path,
                                 const char *body)
{
    char ts[24], hash[GF_SHA256_HEX_LEN + 1], msg[2600], sig_text[100];
    unsigned char sig[GF_IDENTITY_SIG_BYTES];
    enum gf_err err = GF_OK;

    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) + gf_http_offset());
    gf_sha256_hex(hash, sizeof(hash), body, strlen(body));
    int n = snprintf(msg, sizeof(msg), "GF1\n%s\n%s\n%s\n%s", method, path, ts, hash);
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        return GF_ERR_TOOBIG;
    }
    gf_identity_sign(id, msg, (size_t)n, sig);
    gf_b64url_encode(sig_text, sizeof(sig_text), sig, sizeof(sig));
    if (node_id != NULL) {
        err = gf_http_headers_add(h, "X-GF-Node", node_id);
    }
    if (err == GF_OK) {
        err = gf_http_headers_add(h, "X-GF-Timestamp", ts);
    }
    if (err == GF_OK) {
        err = gf_http_headers_add(h, "X-GF-Signature", sig_text);
    }
    return err;
}

void gf_http_request(struct gf_httpc_req *r, const struct gf_agent_config *cfg, const char *url,
                     const struct gf_http_headers *headers, long timeout_s)
{
    memset(r, 0, sizeof(*r));
    r->method = "GET";
    r->url = url;
    r->headers = headers != NULL ? headers->text : NULL;
    r->ca_file = cfg->ca_file;
    r->timeout_s = timeout_s;
    r->sink.on_header = gf_http_on_header;
}

struct sink {
    struct gf_http_get *g;
    int too_big;
};

static enum gf_err on_body(void *ud, long status, const char *p, size_t len)
{
    struct sink *s = ud;
    struct gf_http_get *g = s->g;

    if (g->fd < 0 || (status != 200 && status != 206)) {
        /* Error bodies (problem JSON) are small; keep them for the caller when it has a buf. */
        if (g->buf != NULL && gf_buf_append(g->buf, p, len) != GF_OK) {
            s->too_big = 1;
            return GF_ERR_TOOBIG;
        }
        g->received += len;
        return GF_OK;
    }
    if (status == 200 && g->offset > 0 && g->received == 0) {
        /* The server (or a proxy) ignored the Range: the body is the whole blob again. */
        if (ftruncate(g->fd, 0) != 0) {
            g->write_errno = errno;
            return GF_ERR_IO;
        }
        g->offset = 0;
    }
    if (g->offset + g->received + len > g->max_bytes) {
        s->too_big = 1;
        return GF_ERR_TOOBIG;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(g->fd, p + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            g->write_errno = w < 0 ? errno : EIO;
            return GF_ERR_IO;
        }
        off += (size_t)w;
    }
    g->received += len;
    return GF_OK;
}

static enum gf_err get_once(const struct gf_agent_config *cfg, const struct gf_identity *id,
                            const char *node_id, struct gf_http_get *g)
{
    char url[2300], range[48], signed_path[2048];
    struct gf_http_headers h = {0};
    struct sink s = {g, 0};
    struct gf_httpc_req req;
    struct gf_httpc_result res;
    enum gf_err err;

    g->status = 0;
    g->received = 0;
    g->write_errno = 0;
    /* The signature covers the path without its query string (docs/mqtt.md). */
    snprintf(signed_path, sizeof(signed_path), "%.*s", (int)strcspn(g->path, "?"), g->path);
    err = gf_http_sign_headers(&h, id, node_id, "GET", signed_path, "");
    if (err == GF_OK && g->fd >= 0 && g->offset > 0) {
        snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)g->offset);
        err = gf_http_headers_add(&h, "Range", range);
    }
    if (err != GF_OK) {
        gf_log_error("cannot sign the request", "path=%s", g->path);
        return GF_ERR_INVAL;
    }
    snprintf(url, sizeof(url), "%s%s", cfg->server_url, g->path);
    gf_http_request(&req, cfg, url, &h, GET_TIMEOUT_S);
    req.sink.on_body = on_body;
    req.sink.ud = &s;
    err = gf_httpc_perform(&req, &res);
    g->status = res.status;
    if (s.too_big) {
        err = GF_ERR_TOOBIG;
    } else if (g->write_errno != 0) {
        err = GF_ERR_IO;
    } else if (err != GF_OK) {
        gf_log_warn("request failed", "path=%s error=\"%s\"", g->path, res.error);
        err = GF_ERR_UNAVAILABLE;
    }
    return err;
}

enum gf_err gf_http_signed_get(const struct gf_agent_config *cfg, const struct gf_identity *id,
                               const char *node_id, struct gf_http_get *g)
{
    long before = gf_http_offset();
    enum gf_err err = get_once(cfg, id, node_id, g);

    if (err == GF_OK && g->status == 401 && labs(gf_http_offset() - before) > 60) {
        /* Refused for our clock, which the answer's Date header has just corrected. */
        if (g->buf != NULL) {
            g->buf->len = 0;
        }
        err = get_once(cfg, id, node_id, g);
    }
    return err;
}
