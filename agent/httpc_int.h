/* SPDX-License-Identifier: Apache-2.0
 *
 * httpc_int.h - inside the agent's HTTP client (not for other modules): the connection of
 * httpc_conn.c that httpc.c drives. A connection is one TCP socket, optionally wrapped in TLS,
 * with the request's deadlines: until gf_httpc_conn_established() the connect deadline (15 s)
 * applies as well as the overall one; every wait checks the low-speed rule. Errors are
 * written as one line into the error buffer given at open (borrowed for the connection's
 * life). Not thread-safe: one connection belongs to one request.
 */
#ifndef GF_AGENT_HTTPC_INT_H
#define GF_AGENT_HTTPC_INT_H

#include "err.h"

#include <stddef.h>

struct gf_httpc_conn;

/* Resolve host and connect to port, trying each address in turn within the connect
 * deadline; timeout_s bounds the whole request from now. err (cap bytes) receives the reason
 * of a failure. *out: caller owns (free with gf_httpc_conn_free). GF_ERR_UNAVAILABLE,
 * GF_ERR_TIMEOUT, GF_ERR_NOMEM. */
enum gf_err gf_httpc_conn_open(const char *host, unsigned port, long timeout_s, char *err,
                               size_t cap, struct gf_httpc_conn **out);

/* TLS 1.2+ over the connection: verify the server against ca_file (NULL: the system store)
 * and host (a name, with SNI, or an IP literal: ip_literal). GF_ERR_CRYPTO when the
 * handshake or the verification fails, GF_ERR_TIMEOUT, GF_ERR_UNAVAILABLE, GF_ERR_NOMEM. */
enum gf_err gf_httpc_conn_tls(struct gf_httpc_conn *c, const char *host, int ip_literal,
                              const char *ca_file);

/* The connection phase is over: only the overall deadline and the low-speed rule apply. */
void gf_httpc_conn_established(struct gf_httpc_conn *c);

/* Send all n bytes. GF_ERR_UNAVAILABLE, GF_ERR_TIMEOUT, GF_ERR_CRYPTO. */
enum gf_err gf_httpc_conn_write(struct gf_httpc_conn *c, const void *p, size_t n);

/* Receive up to cap bytes into buf; *got = 0 when the peer closed. GF_ERR_UNAVAILABLE,
 * GF_ERR_TIMEOUT, GF_ERR_CRYPTO. */
enum gf_err gf_httpc_conn_read(struct gf_httpc_conn *c, void *buf, size_t cap, size_t *got);

/* 1 unless the peer closed a TLS connection without close_notify (a possible truncation). */
int gf_httpc_conn_clean_eof(const struct gf_httpc_conn *c);

/* Close and release (NULL is fine). */
void gf_httpc_conn_free(struct gf_httpc_conn *c);

#endif
