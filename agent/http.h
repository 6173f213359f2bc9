/* SPDX-License-Identifier: Apache-2.0
 *
 * http.h - the agent's requests to gatefleet-server (libcurl): the node-signature headers
 * of docs/mqtt.md, and node-signed GETs whose answer goes to a capped buffer or is appended
 * to a file from a byte offset (HTTP Range), so a download cut by a weak link resumes and a
 * server that streams forever cannot fill the disk: past max_bytes the transfer is aborted.
 * TLS verifies the server (ca_file or the system store); 15 s connect, 300 s total,
 * aborted when slower than 64 B/s for 60 s. Thread-safe (one easy handle per call).
 */
#ifndef GF_AGENT_HTTP_H
#define GF_AGENT_HTTP_H

#include "buf.h"
#include "err.h"

#include <curl/curl.h>
#include <stdint.h>

struct gf_identity;
struct gf_agent_config;

/* Append X-GF-Node (when node_id), X-GF-Timestamp and X-GF-Signature for method, path and
 * body to h; returns the new list (NULL on allocation failure, h then freed by the caller).
 * The timestamp is the local clock corrected by the server's offset (gf_http_offset). */
struct curl_slist *gf_http_sign_headers(struct curl_slist *h, const struct gf_identity *id,
                                        const char *node_id, const char *method, const char *path,
                                        const char *body);

/* CURLOPT_HEADERFUNCTION for every request to the server: learns the server's clock from
 * its Date header (userdata unused). Signed requests then carry the server's time, so a
 * station whose clock is off (no RTC battery, no NTP on a closed network) can still sign
 * within the server's +-300 s window. Local decisions (bundle expiry) keep the local clock. */
size_t gf_http_on_header(char *line, size_t size, size_t n, void *userdata);

/* Seconds to add to the local clock to get the server's (0 until a Date header was seen). */
long gf_http_offset(void);

/* The options every request to the server shares: URL, headers, the Date-header hook,
 * timeouts (15 s to connect, timeout_s in all), no signals, http(s) only, ca_file. */
void gf_http_setup(CURL *c, const struct gf_agent_config *cfg, const char *url,
                   struct curl_slist *headers, long timeout_s);

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
 * GF_ERR_IO when writing fd failed, GF_ERR_UNAVAILABLE for network failures. */
enum gf_err gf_http_signed_get(const struct gf_agent_config *cfg, const struct gf_identity *id,
                               const char *node_id, struct gf_http_get *g);

#endif
