/* SPDX-License-Identifier: Apache-2.0
 *
 * httpc.h - the agent's small HTTP/1.1 client over OpenSSL: one request on one connection
 * (`Connection: close`), http:// over plain TCP, https:// over TLS 1.2+ that verifies the
 * server's certificate (ca_file, else the system store) and its name (or IP address), with SNI
 * for names. It replaced libcurl, whose dependencies (gnutls, p11-kit, krb5, ldap, nghttp2 ...)
 * cost the agent more resident memory than the rest of it; the agent already links OpenSSL for
 * MQTT over TLS (paho).
 *
 * Timeouts: 15 s to connect (TCP, proxy tunnel and TLS handshake), timeout_s for the whole
 * request, and the transfer is aborted when it is slower than 64 B/s for 60 s. Names resolve
 * through getaddrinfo (bounded by the resolver's own timeouts, not by ours) and every address
 * is tried in turn. Answers: status line and headers capped at GF_HTTPC_HEADER_MAX bytes in all,
 * the body framed by Content-Length, chunked transfer-encoding, or the end of the connection;
 * 1xx interim answers are skipped. No signals: writes use MSG_NOSIGNAL (TLS included), so the
 * caller need not ignore SIGPIPE.
 *
 * Proxies: like libcurl, https_proxy / HTTPS_PROXY for https:// URLs, http_proxy (lower case
 * only) for http://, then all_proxy / ALL_PROXY; no_proxy / NO_PROXY lists the hosts to reach
 * directly. Only http:// proxies (optionally with user:password@, sent as Basic): https:// URLs
 * go through a CONNECT tunnel, http:// URLs in absolute form. Other proxy schemes (socks5://,
 * https://) fail the request rather than silently bypassing the proxy.
 *
 * The URL parser and the response parser are public so that they can be tested without a
 * network. Everything here is thread-safe: no shared state besides OpenSSL's own.
 */
#ifndef GF_AGENT_HTTPC_H
#define GF_AGENT_HTTPC_H

#include "err.h"
#include "gf_limits.h"

#include <stddef.h>
#include <time.h>

#define GF_HTTPC_HEADER_MAX (16u * 1024u) /* status line + headers (and chunk trailers) */
#define GF_HTTPC_CHUNK_LINE_MAX 1024u     /* one chunk-size line, extensions included */
#define GF_HTTPC_CONNECT_TIMEOUT_S 15     /* TCP connect + proxy tunnel + TLS handshake */
#define GF_HTTPC_LOW_SPEED_BYTES 64       /* bytes per second ... */
#define GF_HTTPC_LOW_SPEED_TIME_S 60      /* ... averaged over this window, else abort */
#define GF_HTTPC_HOST_MAX 255u            /* DNS name or address literal, without [] */
#define GF_HTTPC_USERINFO_MAX 127u        /* proxy user name / password, decoded */
#define GF_HTTPC_ERROR_MAX 160u           /* gf_httpc_result.error */

/* ------------------------------------------------------------------ URLs and proxies */

/* A parsed http(s) URL. Plain value struct. */
struct gf_httpc_url {
    int tls;                              /* https:// */
    int ip_literal;                       /* host is an IPv4 or IPv6 address */
    int ipv6;                             /* host was a [bracketed] IPv6 literal */
    unsigned port;                        /* 1..65535; 80 / 443 (proxies: 1080) by default */
    char host[GF_HTTPC_HOST_MAX + 1];     /* without the brackets */
    char user[GF_HTTPC_USERINFO_MAX + 1]; /* proxies only: percent-decoded user name */
    char password[GF_HTTPC_USERINFO_MAX + 1];
    char path[GF_LIMIT_URL_BYTES + 1]; /* "/" when empty; query kept, fragment dropped */
};

/* Parse as a proxy: the scheme may be omitted (http), user:password@ is allowed, the default
 * port is 1080 and a path is ignored. */
#define GF_HTTPC_URL_PROXY 1

/* Parse url ("http[s]://host[:port][/path][?query][#fragment]"; host a DNS name, an IPv4
 * address or a [bracketed] IPv6 address without zone) into *out, written only on success.
 * flags: 0 or GF_HTTPC_URL_PROXY. GF_ERR_INVAL for any other scheme, user info (except for
 * proxies), bad host or port characters, control characters or spaces, an empty host, a port
 * out of range; GF_ERR_TOOBIG when the host or the path is longer than its field. */
enum gf_err gf_httpc_url_parse(const char *url, int flags, struct gf_httpc_url *out);

/* 1 when host (name or address, IPv6 without brackets) matches the no_proxy list: "*", or
 * comma- or space-separated entries, each a domain (".example.com" or "example.com" matches
 * the name and its subdomains, case-insensitively), an address, or an address/prefix (CIDR). */
int gf_httpc_no_proxy_match(const char *list, const char *host);

/* The proxy the environment names for target (see the top of this file): *use is set to 1
 * and *proxy filled when one applies, *use = 0 otherwise. GF_ERR_CONFIG when the variable is
 * set but is not an http:// proxy URL (the message names the variable in diag, optional). */
enum gf_err gf_httpc_proxy_env(const struct gf_httpc_url *target, struct gf_httpc_url *proxy,
                               int *use, struct gf_diag *diag);

/* ------------------------------------------------------------------ responses */

/* Where an answer goes. Plain value struct; both callbacks may be NULL (ignored). */
struct gf_httpc_sink {
    /* Each header of the final answer (not of 1xx answers) in arrival order. name and value
     * are borrowed (valid during the call), NUL-terminated, the value without surrounding
     * blanks. */
    void (*on_header)(void *ud, const char *name, const char *value);
    /* Body bytes, de-chunked, of the answer with this status. GF_OK to go on; anything else
     * aborts the transfer and becomes the result of gf_httpc_resp_feed / gf_httpc_perform. */
    enum gf_err (*on_body)(void *ud, long status, const char *p, size_t n);
    void *ud;
};

/* An incremental HTTP/1.1 response parser. */
struct gf_httpc_resp;

/* The parser is for the answer to a CONNECT */
#define GF_HTTPC_RESP_CONNECT 1
/* The request was HEAD: the answer has no body whatever its headers say */
#define GF_HTTPC_RESP_HEAD 2

/* A parser for one answer (flags: 0, GF_HTTPC_RESP_CONNECT: complete after its header
 * section, or GF_HTTPC_RESP_HEAD). sink is copied. *out: caller owns (free with
 * gf_httpc_resp_free). GF_ERR_NOMEM. */
enum gf_err gf_httpc_resp_new(int flags, const struct gf_httpc_sink *sink,
                              struct gf_httpc_resp **out);

void gf_httpc_resp_free(struct gf_httpc_resp *r);

/* Feed n received bytes; *used receives how many were consumed (fewer than n only once the
 * answer is complete: the rest does not belong to it). GF_ERR_PARSE for a malformed status
 * line, header, Content-Length (also when repeated with another value) or chunk framing,
 * GF_ERR_TOOBIG when the header section (or the trailers) pass GF_HTTPC_HEADER_MAX or a
 * chunk-size line passes GF_HTTPC_CHUNK_LINE_MAX, GF_ERR_INVAL after an error or a 101,
 * or the sink's error. After an error the parser accepts nothing more. */
enum gf_err gf_httpc_resp_feed(struct gf_httpc_resp *r, const char *p, size_t n, size_t *used);

/* The peer closed the connection. GF_OK when that completes the answer (it was complete, or
 * its body runs to the end of the connection), GF_ERR_UNAVAILABLE when the answer is cut. */
enum gf_err gf_httpc_resp_eof(struct gf_httpc_resp *r);

/* 1 once the answer is complete. */
int gf_httpc_resp_done(const struct gf_httpc_resp *r);

/* 1 while the body is read until the connection closes (no Content-Length, not chunked). */
int gf_httpc_resp_until_close(const struct gf_httpc_resp *r);

/* The status of the final answer; 0 until its status line was read. */
long gf_httpc_resp_status(const struct gf_httpc_resp *r);

/* An HTTP date in the preferred IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT") into
 * seconds since the epoch in *out (written only on success). GF_ERR_PARSE otherwise (the
 * obsolete RFC 850 and asctime forms are not accepted). */
enum gf_err gf_httpc_date_parse(const char *s, time_t *out);

/* ------------------------------------------------------------------ requests */

/* One request. Plain value struct; everything borrowed for the duration of the call. */
struct gf_httpc_req {
    const char *method;  /* "GET" or "POST" */
    const char *url;     /* http:// or https:// (gf_httpc_url_parse) */
    const char *headers; /* NULL, or complete "Name: value\r\n" lines to add */
    const char *body;    /* NULL, or body_len bytes (sent with Content-Length) */
    size_t body_len;
    const char *ca_file; /* PEM CA bundle for https; NULL: the system store */
    long timeout_s;      /* the whole request, connection included (> 0) */
    struct gf_httpc_sink sink;
};

/* What came back. Plain value struct; written also when the request fails. */
struct gf_httpc_result {
    long status;                    /* HTTP status of the final answer; 0 when none came */
    char error[GF_HTTPC_ERROR_MAX]; /* on failure: one line for the log (no secrets) */
};

/* Send req and deliver the answer to req->sink. GF_OK when a complete answer came (any
 * status). GF_ERR_INVAL for a bad URL, method or header line, GF_ERR_CONFIG for a bad proxy
 * variable, GF_ERR_UNAVAILABLE when the name does not resolve, no address connects, the
 * proxy refuses the tunnel or the connection breaks, GF_ERR_TIMEOUT when a deadline passed or
 * the transfer was too slow, GF_ERR_CRYPTO when TLS failed (certificate not trusted, wrong
 * name, no common protocol, unreadable ca_file), GF_ERR_PARSE / GF_ERR_TOOBIG for a malformed
 * or oversized answer, GF_ERR_NOMEM, or the error the sink returned. res is always written;
 * res->error says what failed. */
enum gf_err gf_httpc_perform(const struct gf_httpc_req *req, struct gf_httpc_result *res);

#endif
