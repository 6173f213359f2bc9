/* SPDX-License-Identifier: Apache-2.0
 *
 * auth.h - who is calling: the session cookie or the Bearer API token of a request,
 * checked against their hashes in the database, and the CSRF check of cookie requests.
 */
#ifndef GF_SERVER_AUTH_H
#define GF_SERVER_AUTH_H

#include "req.h"

#define GF_SESSION_COOKIE "gf_session"
#define GF_TOKEN_PREFIX "gft_"

/* Fill the request's principal. GF_OK with kind NONE when no credentials were sent;
 * GF_ERR_AUTH (problem recorded) when credentials were sent but are wrong, expired or
 * revoked; GF_ERR_UNAVAILABLE when the database is down. */
enum gf_err gf_auth_resolve(struct gf_req *r);

/* The CSRF token of a session: base64url(HMAC-SHA256(master key, "csrf:" + cookie value)).
 * Nothing is stored; it is recomputed from the cookie (signed double-submit). */
void gf_auth_csrf_token(const unsigned char master_key[32], const char *cookie, char *out,
                        size_t cap);

/* For cookie-authenticated mutations: X-CSRF-Token must equal the session's CSRF token.
 * GF_ERR_CSRF (problem recorded) otherwise. Token-authenticated requests pass. */
enum gf_err gf_auth_check_csrf(struct gf_req *r);

#endif
