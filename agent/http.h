/* SPDX-License-Identifier: Apache-2.0
 *
 * http.h - the agent's requests to gatefleet-server (over httpc.h, the agent's own HTTP/1.1
 * client on OpenSSL): the node-signature headers of docs/mqtt.md, and node-signed GETs whose
 * answer goes to a capped buffer or is appended to a file from a byte offset (HTTP Range), so
 * a download cut by a weak link resumes and a server that streams forever cannot fill the
 * disk: past max_bytes the transfer is aborted. TLS verifies the server (ca_file or the system
 * store); 15 s connect, 300 s total, aborted when slower than 64 B/s for 60 s. Every answer's
 * Date header feeds the clock offset that signatures use. Thread-safe (one connection per call).
 */
#ifndef GF_AGENT_HTTP_H
#define GF_AGENT_HTTP_H

#include "buf.h"
#include "err.h"
#include "httpc.h"

#include <stdint.h>

struct gf_identity;
struct gf_agent_config;

#define GF_HTTP_HEADERS_MAX 1024u /* the extra header lines of one request to the server */

/* Extra request headers: complete "Name: value\r\n" lines, NUL-terminated. Plain value
 * struct; start with len = 0 and text[0] = '\0' (or = {0}). */
struct gf_http_headers {
    size_t len;
    char text[GF_HTTP_HEADERS_MAX];
};

/* Append "name: value\r\n". GF_ERR_TOOBIG when it does not fit (h unchanged), GF_ERR_INVAL
 * when name or value holds CR or LF. */
enum gf_err gf_http_headers_add(struct gf_http_headers *h, const char *name, const char *value);

/* Append X-GF-Node (when node_id), X-GF-Timestamp and X-GF-Signature for method, path and
 * body to h. The timestamp is the local clock corrected by the server's offset
 * (gf_http_offset). GF_ERR_TOOBIG when path is too long to sign or h is full (h may then hold
 * some of the lines: do not send it). */
enum gf_err gf_http_sign_headers(struct gf_http_headers *h, const struct gf_identity *id,
                                 const char *node_id, const char *method, const char *path,
                                 const char *body);

/* Header hook (struct gf_httpc_sink.on_header) for every request to the server: learns the
 * server's clock from its Date header (ud unused). Signed requests then carry the server's
 * time, so a station whose clock is off (no RTC battery, no NTP on a closed network) can still
 * sign within the server's +-300 s window. Local decisions (bundle expiry) keep the local
 * clock. Thread-safe. */
void gf_http_on_header(void *ud, const char *name, const char *value);

/* Seconds to add to the local clock to get the server's (0 until a Date header was seen). */
long gf_http_offset(void);

/* The fields every request to the server shares: method GET, url, headers (borrowed, may be
 * NULL), ca_file, timeout_s in all, and the Date-header hook (the caller sets the body sink
 * and, for a POST, the method and body). */
void gf_http_request(struct gf_httpc_req *r, const struct gf_agent_config *cfg, const char *url,
                     const struct gf_http_headers *headers, long timeout_s);

/* A signed GET. Plain value struct. */
struct gf_http_get {
    const char *path;   /* "/api/v1/..." (query included) */
    int fd;             /* >= 0: append the body here (Range from offset) */
    uint64_t offset;    /* bytes already in fd (back to 0 when a 200 ignores the Range) */
    struct gf_buf *buf; /* fd < 0: the body goes here (capped by buf->cap) */
    uint64_t max_bytes; /* fd: cap on the file (offset + body); past it the transfer aborts */
    long status;        /* out: HTTP status, 0 when no answer */
    uint64_t received;  /* out: body bytes written */
    int write_errno;    /* out: errno of a failed write to fd (ENOSPC: disk full) */
};

/* GF_OK when an answer came (any status), GF_ERR_TOOBIG when the body passed its cap,
 * GF_ERR_IO when writing fd failed, GF_ERR_UNAVAILABLE for network failures (connection,
 * TLS, timeouts, malformed answers; logged with the reason), GF_ERR_INVAL when the path is
 * too long to sign. */
enum gf_err gf_http_signed_get(const struct gf_agent_config *cfg, const struct gf_identity *id,
                               const char *node_id, struct gf_http_get *g);

#endif
