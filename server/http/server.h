/* SPDX-License-Identifier: Apache-2.0
 *
 * server.h - the HTTP(S) listener: libmicrohttpd with a thread pool over a socket we bind
 * ourselves (so port 0 works and the real port is known), request lifecycle (body caps,
 * per-request arena freed in one place, one log line, metrics), graceful stop.
 */
#ifndef GF_SERVER_HTTP_SERVER_H
#define GF_SERVER_HTTP_SERVER_H

#include "err.h"

#include <stddef.h>

struct gf_app;
struct gf_http;

/* Bind cfg.listen, start the daemon. base_url receives "http(s)://host:port". Caller owns
 * *out (gf_http_stop). GF_ERR_CONFIG (bind failure, bad TLS files) with diag. */
enum gf_err gf_http_start(struct gf_app *app, char *base_url, size_t cap, struct gf_http **out,
                          struct gf_diag *diag);

/* Stop accepting new connections, wait up to timeout_s for in-flight requests, then stop the
 * daemon and free. */
void gf_http_stop(struct gf_http *h, long timeout_s);

#endif
