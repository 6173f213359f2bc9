/* SPDX-License-Identifier: Apache-2.0
 *
 * nodeauth.c - verification of node-signed requests (see nodeauth.h).
 */
#include "nodeauth.h"

#include "router.h"

#include "buf.h"
#include "ids.h"
#include "timefmt.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gf_err gf_nodeauth_verify(struct gf_req *r, const char *node_id, const char *pk_hex)
{
    const char *node = gf_req_header(r, "X-GF-Node");
    const char *ts = gf_req_header(r, "X-GF-Timestamp");
    const char *sig_text = gf_req_header(r, "X-GF-Signature");
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES + 8];
    char body_hash[GF_SHA256_HEX_LEN + 1], msg[600], *end = NULL;
    size_t blen = 0, pklen = 0;
    const char *body = gf_req_body(r, &blen);

    if ((node == NULL && node_id != NULL) || ts == NULL || sig_text == NULL) {
        return gf_req_fail(r, GF_ERR_AUTH, "X-GF-Signature",
                           "this request must be signed by the node (X-GF-Node, X-GF-Timestamp, "
                           "X-GF-Signature)");
    }
    if (node_id != NULL && strcmp(node, node_id) != 0) {
        return gf_req_fail(r, GF_ERR_AUTH, "X-GF-Node", "X-GF-Node does not name this node");
    }
    long long t = strtoll(ts, &end, 10);
    long long now = (long long)(gf_time_now_us() / 1000000);
    if (end == ts || *end != '\0') {
        return gf_req_fail(r, GF_ERR_AUTH, "X-GF-Timestamp", "X-GF-Timestamp must be unix seconds");
    }
    if (t < now - GF_NODEAUTH_SKEW || t > now + GF_NODEAUTH_SKEW) {
        return gf_req_fail(r, GF_ERR_AUTH, "X-GF-Timestamp",
                           "the station clock is off by %lld s (allowed: %d s); the server time "
                           "is %lld",
                           t - now, GF_NODEAUTH_SKEW, now);
    }
    if (pk_hex == NULL ||
        sodium_hex2bin(pk, sizeof(pk), pk_hex, strlen(pk_hex), NULL, &pklen, NULL) != 0 ||
        pklen != sizeof(pk) || gf_b64url_decode(sig, sizeof(sig), sig_text) != crypto_sign_BYTES) {
        return gf_req_fail(r, GF_ERR_AUTH, "X-GF-Signature", "the signature is not valid");
    }
    gf_sha256_hex(body_hash, sizeof(body_hash), body ? body : "", blen);
    int n = snprintf(msg, sizeof(msg), "GF1\n%s\n%s\n%s\n%s", gf_method_name(gf_req_method(r)), gf_req_path(r),
                     ts, body_hash);
    if (n < 0 || (size_t)n >= sizeof(msg) ||
        crypto_sign_verify_detached(sig, (const unsigned char *)msg, (unsigned long long)n, pk) !=
            0) {
        return gf_req_fail(r, GF_ERR_AUTH, "X-GF-Signature", "the signature is not valid");
    }
    return GF_OK;
}
