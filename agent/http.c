/* SPDX-License-Identifier: Apache-2.0
 *
 * http.c - signed requests to the server (see http.h).
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

static atomic_long server_offset_s;

long gf_http_offset(void)
{
    return atomic_load(&server_offset_s);
}

size_t gf_http_on_header(char *line, size_t size, size_t n, void *userdata)
{
    size_t len = size * n;
    char date[64];

    (void)userdata;
    if (len > 5 && len < sizeof(date) + 5 && strncasecmp(line, "Date:", 5) == 0) {
        snprintf(date, sizeof(date), "%.*s", (int)(len - 5), line + 5);
        time_t server = curl_getdate(date, NULL);
        if (server > 0) {
            long offset = (long)(server - time(NULL));
            long old = atomic_exchange(&server_offset_s, offset);
            if (labs(offset - old) > OFFSET_LOG_S) {
                gf_log_warn("local clock differs from the server's; signing with the server's "
                            "time",
                            "offset_s=%ld", offset);
            }
        }
    }
    return len;
}

struct curl_slist *gf_http_sign_headers(struct curl_slist *h, const struct gf_identity *id,
                                        const char *node_id, const char *method, const char *path,
                                        const char *body)
{
    char ts[24], hash[GF_SHA256_HEX_LEN + 1], msg[2600], line[200], sig_text[100];
    unsigned char sig[GF_IDENTITY_SIG_BYTES];

    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) + gf_http_offset());
    gf_sha256_hex(hash, sizeof(hash), body, strlen(body));
    int n = snprintf(msg, sizeof(msg), "GF1\n%s\n%s\n%s\n%s", method, path, ts, hash);
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        return h;
    }
    gf_identity_sign(id, msg, (size_t)n, sig);
    gf_b64url_encode(sig_text, sizeof(sig_text), sig, sizeof(sig));
    if (node_id != NULL) {
        snprintf(line, sizeof(line), "X-GF-Node: %s", node_id);
        h = curl_slist_append(h, line);
    }
    snprintf(line, sizeof(line), "X-GF-Timestamp: %s", ts);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "X-GF-Signature: %s", sig_text);
    return curl_slist_append(h, line);
}

void gf_http_setup(CURL *c, const struct gf_agent_config *cfg, const char *url,
                   struct curl_slist *headers, long timeout_s)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, gf_http_on_header);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    if (cfg->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    }
}

struct sink {
    struct gf_http_get *g;
    int too_big;
    CURL *c;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    struct gf_http_get *g = s->g;
    size_t len = size * n;
    long code = 0;

    curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &code);
    if (g->fd < 0 || (code != 200 && code != 206)) {
        /* Error bodies (problem JSON) are small; keep them for the caller when it has a buf. */
        if (g->buf != NULL && gf_buf_append(g->buf, p, len) != GF_OK) {
            s->too_big = 1;
            return 0;
        }
        g->received += len;
        return len;
    }
    if (code == 200 && g->offset > 0 && g->received == 0) {
        /* The server (or a proxy) ignored the Range: the body is the whole blob again. */
        if (ftruncate(g->fd, 0) != 0) {
            g->write_errno = errno;
            return 0;
        }
        g->offset = 0;
    }
    if (g->offset + g->received + len > g->max_bytes) {
        s->too_big = 1;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(g->fd, p + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            g->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    g->received += len;
    return len;
}

static enum gf_err get_once(const struct gf_agent_config *cfg, const struct gf_identity *id,
                            const char *node_id, struct gf_http_get *g)
{
    char url[2300], range[48];
    struct curl_slist *h = NULL;
    struct sink s = {g, 0, NULL};
    enum gf_err err = GF_OK;
    CURL *c = curl_easy_init();

    g->status = 0;
    g->received = 0;
    g->write_errno = 0;
    if (c == NULL) {
        return GF_ERR_NOMEM;
    }
    s.c = c;
    /* The signature covers the path without its query string (docs/mqtt.md). */
    char signed_path[2048];
    snprintf(signed_path, sizeof(signed_path), "%.*s", (int)strcspn(g->path, "?"), g->path);
    h = gf_http_sign_headers(NULL, id, node_id, "GET", signed_path, "");
    if (g->fd >= 0 && g->offset > 0) {
        snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)g->offset);
        h = curl_slist_append(h, range);
    }
    snprintf(url, sizeof(url), "%s%s", cfg->server_url, g->path);
    gf_http_setup(c, cfg, url, h, 300L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 64L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    if (s.too_big) {
        err = GF_ERR_TOOBIG;
    } else if (g->write_errno != 0) {
        err = GF_ERR_IO;
    } else if (rc != CURLE_OK) {
        gf_log_warn("request failed", "path=%s error=\"%s\"", g->path, curl_easy_strerror(rc));
        err = GF_ERR_UNAVAILABLE;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
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
