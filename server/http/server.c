/* SPDX-License-Identifier: Apache-2.0
 *
 * server.c - libmicrohttpd glue. The access handler is called several times per request:
 * first to set up (arena, Content-Length check), then with body chunks (bounded buffer),
 * then once to dispatch and queue the response. The completion callback logs one line,
 * records metrics and frees everything the request owned.
 */
#define GF_LOG_MODULE "http"
#include "server.h"

#include "../core/app.h"
#include "../store/db.h"
#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "log.h"
#include "metrics.h"
#include "req_impl.h"
#include "sse.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ARENA_CAP (4u * 1024u * 1024u)

struct gf_http {
    struct MHD_Daemon *d;
    struct gf_app *app;
    int fd;
    char *cert;
    char *key;
};

static enum gf_method parse_method(const char *m)
{
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
        return GF_GET;
    }
    if (!strcmp(m, "POST")) {
        return GF_POST;
    }
    if (!strcmp(m, "PATCH")) {
        return GF_PATCH;
    }
    if (!strcmp(m, "PUT")) {
        return GF_PUT;
    }
    if (!strcmp(m, "DELETE")) {
        return GF_DELETE;
    }
    return GF_METHOD_OTHER;
}

static void peer_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    snprintf(out, cap, "?");
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
    }
}

static struct gf_req *req_new(struct gf_http *h, struct MHD_Connection *c, const char *url,
                              const char *method)
{
    struct gf_arena *a = gf_arena_new(ARENA_CAP);
    struct gf_req *r = a ? gf_arena_alloc(a, sizeof(*r)) : NULL;

    if (r == NULL) {
        gf_arena_free(a);
        return NULL;
    }
    r->arena = a;
    r->app = h->app;
    r->conn = c;
    r->start_us = gf_time_mono_us();
    r->method_text = method;
    r->method = parse_method(method);
    r->path = gf_arena_strndup(a, url, strnlen(url, GF_LIMIT_URL_BYTES + 1));
    peer_address(c, r->source, sizeof(r->source));
    gf_buf_init(&r->body, (size_t)h->app->cfg.max_body_bytes);
    return r;
}

static void add_security_headers(struct MHD_Response *resp, int tls)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; frame-ancestors 'none'; object-src 'none'");
    if (tls) {
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    }
}

static enum MHD_Result queue(struct gf_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (r->sse != NULL && gf_sse_queue(r, &ret)) {
        return ret; /* an event stream (sse.c) */
    }
    if (r->status == 0) {
        gf_req_fail(r, GF_ERR_INTERNAL, "", "no response");
        gf_problem_reply(r, GF_ERR_INTERNAL);
    }
    /* MHD frees with free(); gf_malloc is malloc. */
    resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        return MHD_NO;
    }
    r->resp = NULL;
    if (r->resp_type != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp_type);
    }
    for (size_t i = 0; i < r->nhdr; i++) {
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
    }
    if (!r->matched || strncmp(r->path, "/api/", 5) == 0 || r->status >= 400) {
        add_security_headers(resp, r->app->tls);
    } else {
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_too_big(struct gf_req *r)
{
    if (r->status != 0) {
        return MHD_YES; /* already queued on the first call */
    }
    gf_req_fail(r, GF_ERR_TOOBIG, "", "request body exceeds %zu bytes", r->body.cap);
    gf_problem_reply(r, GF_ERR_TOOBIG);
    gf_req_add_header(r, "Connection", "close");
    return queue(r);
}

static void route_request(struct gf_req *r)
{
    enum gf_err err = r->route_err;

    if (strlen(r->path) > GF_LIMIT_URL_BYTES) {
        gf_req_fail(r, GF_ERR_TOOBIG, "", "URL too long");
        gf_problem_reply(r, GF_ERR_TOOBIG);
        return;
    }
    if (err == GF_OK) {
        r->matched = 1;
        gf_dispatch(r);
    } else if (err == GF_ERR_METHOD) {
        gf_req_fail(r, GF_ERR_METHOD, "", "method %s is not allowed here", r->method_text);
        gf_problem_reply(r, GF_ERR_METHOD);
        gf_req_add_header(r, "Allow", r->allow);
    } else if (strncmp(r->path, "/api/", 5) != 0 && r->method == GF_GET) {
        gf_static_serve(r);
    } else {
        gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such resource: %s", r->path);
        gf_problem_reply(r, GF_ERR_NOTFOUND);
    }
}

/* Uploads (GF_RF_BIG_BODY routes) may be larger than max_body_bytes, but only for callers
 * that present credentials; authentication itself happens once the body is in. */
static void big_body(struct gf_http *h, struct MHD_Connection *c, struct gf_req *r)
{
    if (r->route_err != GF_OK || !(r->match.route->flags & GF_RF_BIG_BODY)) {
        return;
    }
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) == NULL &&
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE) == NULL) {
        return;
    }
    r->body.cap = (size_t)h->app->cfg.max_upload_bytes;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    struct gf_http *h = cls;
    struct gf_req *r = *con_cls;

    (void)version;
    if (r == NULL) {
        r = req_new(h, c, url, method);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        gf_metrics_inflight(h->app->metrics, 1);
        /* Route once, with the headers: the body cap depends on the route. */
        r->route_err =
            gf_router_match(r->method_text, r->path, &r->match, r->allow, sizeof(r->allow));
        big_body(h, c, r);
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > (unsigned long long)r->body.cap) {
            /* Refuse before reading the body: MHD discards the upload and closes. */
            r->body_too_big = 1;
            return reply_too_big(r);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!r->body_too_big && gf_buf_append(&r->body, upload_data, *upload_size) != GF_OK) {
            r->body_too_big = 1;
            gf_buf_free(&r->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->body_too_big) {
        return reply_too_big(r);
    }
    route_request(r);
    return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gf_http *h = cls;
    struct gf_req *r = *con_cls;

    (void)c;
    if (r == NULL) {
        return;
    }
    int64_t us = gf_time_mono_us() - r->start_us;
    if (r->db != NULL) {
        gf_db_release(h->app->db, r->db);
    }
    gf_metrics_observe(h->app->metrics, r->matched ? r->match.index : (size_t)-1, r->status, us);
    gf_metrics_inflight(h->app->metrics, -1);
    char path[160];
    path[0] = '\0';
    gf_log_quote(path, sizeof(path), r->path); /* path only: query strings are never logged */
    gf_log_write(r->status >= 500 ? GF_LOG_WARN : GF_LOG_INFO, GF_LOG_MODULE, "request",
                 "method=%s path=%s route=%s status=%u duration_ms=%.3f bytes_in=%zu src=%s "
                 "user=%s%s",
                 r->method_text, path, r->matched ? r->match.route->pattern : "-", r->status,
                 (double)us / 1000.0, r->body.len, r->source,
                 r->who.user_id[0] ? r->who.user_id : "-",
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
    json_decref(r->audit_detail);
    gf_free(r->resp);
    gf_buf_free(&r->body);
    gf_arena_free(r->arena);
    *con_cls = NULL;
}

static int bind_listen(const char *listen_addr, char *host, size_t hostcap, int *port,
                       struct gf_diag *diag)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[8];
    int fd = -1, one = 1;

    if (gf_conf_split_hostport(listen_addr, host, hostcap, port) != GF_OK) {
        gf_diag_set(diag, GF_ERR_CONFIG, "listen", "listen: bad address %s", listen_addr);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", *port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL) {
        gf_diag_set(diag, GF_ERR_CONFIG, "listen", "listen: cannot resolve %s", host);
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            gf_diag_set(diag, GF_ERR_CONFIG, "listen", "listen: cannot bind %s: %s", listen_addr,
                        strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

static enum gf_err load_pem(const char *path, char **out, const char *key, struct gf_diag *diag)
{
    struct gf_buf b;

    gf_buf_init(&b, 1024 * 1024);
    if (gf_file_read(path, &b) != GF_OK || b.len == 0) {
        gf_buf_free(&b);
        return gf_diag_set(diag, GF_ERR_CONFIG, key, "%s: cannot read %s", key, path);
    }
    *out = gf_buf_steal(&b, NULL);
    return GF_OK;
}

enum gf_err gf_http_start(struct gf_app *app, char *base_url, size_t cap, struct gf_http **out,
                          struct gf_diag *diag)
{
    struct gf_http *h = gf_calloc(1, sizeof(*h));
    char host[256];
    int port;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    unsigned conn_limit = 0;
    enum gf_err err = GF_OK;

    if (h == NULL) {
        return GF_ERR_NOMEM;
    }
    h->app = app;
    h->fd = bind_listen(app->cfg.listen, host, sizeof(host), &port, diag);
    if (h->fd < 0) {
        gf_free(h);
        return GF_ERR_CONFIG;
    }
    if (app->cfg.tls_cert != NULL) {
        if ((err = load_pem(app->cfg.tls_cert, &h->cert, "tls_cert", diag)) != GF_OK ||
            (err = load_pem(app->cfg.tls_key, &h->key, "tls_key", diag)) != GF_OK) {
            goto fail;
        }
        flags |= MHD_USE_TLS;
        app->tls = 1;
    }
    /* Event streams: their hub sizes the connection limit to the open file limit. */
    if ((err = gf_sse_hub_new(app, &conn_limit, &app->sse)) != GF_OK) {
        gf_diag_set(diag, err, "sse_max_clients", "cannot start the event stream hub");
        goto fail;
    }
    struct MHD_OptionItem tls_opts[] = {
        {app->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->cert},
        {app->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, h, MHD_OPTION_LISTEN_SOCKET, h->fd,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)app->cfg.http_threads,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_ARRAY, tls_opts,
                            MHD_OPTION_END);
    if (h->d == NULL) {
        err = gf_diag_set(diag, GF_ERR_CONFIG, app->tls ? "tls_cert" : "listen",
                          "cannot start the HTTP daemon%s",
                          app->tls ? " (check tls_cert and tls_key)" : "");
        goto fail;
    }
    snprintf(base_url, cap, "%s://%s%s%s:%d", app->tls ? "https" : "http",
             strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
    *out = h;
    return GF_OK;
fail:
    gf_sse_hub_free(app->sse);
    app->sse = NULL;
    close(h->fd);
    gf_free(h->cert);
    gf_free(h->key);
    gf_free(h);
    return err;
}

void gf_http_stop(struct gf_http *h, long timeout_s)
{
    if (h == NULL) {
        return;
    }
    MHD_socket lfd = MHD_quiesce_daemon(h->d);
    if (lfd != MHD_INVALID_SOCKET) {
        close(lfd);
    }
    gf_sse_hub_shutdown(h->app->sse); /* event streams end now, not at the timeout */
    int64_t deadline = gf_time_mono_us() + (int64_t)timeout_s * 1000000;
    while (gf_metrics_inflight_now(h->app->metrics) > 0 && gf_time_mono_us() < deadline) {
        usleep(20000);
    }
    long left = gf_metrics_inflight_now(h->app->metrics);
    if (left > 0) {
        gf_log_warn("stopping with requests still in flight", "count=%ld", left);
    }
    MHD_stop_daemon(h->d);
    gf_sse_hub_free(h->app->sse);
    h->app->sse = NULL;
    gf_free(h->cert);
    gf_free(h->key);
    gf_free(h);
}
