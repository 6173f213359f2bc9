/* SPDX-License-Identifier: Apache-2.0
 *
 * nodeauth.h - requests signed by an enrolled node's Ed25519 key (docs/mqtt.md): headers
 * X-GF-Node, X-GF-Timestamp and X-GF-Signature over
 * "GF1\n<METHOD>\n<path>\n<timestamp>\n<hex SHA-256 of the body>". The timestamp must be
 * within GF_NODEAUTH_SKEW seconds of the server's clock.
 */
#ifndef GF_SERVER_NODEAUTH_H
#define GF_SERVER_NODEAUTH_H

#include "req.h"

#define GF_NODEAUTH_SKEW 300

/* Check the signature headers of r against the node's public key (hex of 32 bytes).
 * node_id is the node the route names and X-GF-Node must equal it; NULL for POST /enroll,
 * where the key comes with the body and the signature proves the caller holds it.
 * GF_ERR_AUTH recorded on r with a precise reason (missing header, clock skew with the
 * server's time, bad signature). */
enum gf_err gf_nodeauth_verify(struct gf_req *r, const char *node_id, const char *pk_hex);

#endif
