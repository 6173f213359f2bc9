/* SPDX-License-Identifier: Apache-2.0
 *
 * enroll.h - enrollment with gatefleet-server over HTTPS (the agent's own client, httpc.h),
 * as docs/mqtt.md says: POST /api/v1/enroll with the token, public key, fingerprint and
 * inventory; while pending, GET /api/v1/enroll/{node_id} signed with the node's key. The
 * answer that matters is kept in <state_dir>/node.json (0600, written atomically): node id,
 * status and, once accepted, the broker URL and credentials, so a restart does not enroll
 * again.
 */
#ifndef GF_AGENT_ENROLL_H
#define GF_AGENT_ENROLL_H

#include "err.h"

#include <jansson.h>

struct gf_identity;
struct gf_agent_config;

enum gf_enroll_status {
    GF_ENROLL_ACCEPTED,
    GF_ENROLL_PENDING,
    GF_ENROLL_REJECTED,  /* 403: rejected or decommissioned; do not retry */
    GF_ENROLL_BAD_TOKEN, /* 401 on POST: the token is unknown, revoked, expired or used up */
    GF_ENROLL_RETRY,     /* network, 5xx, 401 on a signed poll (clock): try again later */
};

/* What node.json holds. Plain value struct. */
struct gf_node_state {
    char node_id[40];
    char status[16]; /* accepted | pending */
    char url[256];   /* broker */
    char username[64];
    char password[64];
    char topic_root[96];
};

/* Read node.json; GF_ERR_NOTFOUND when there is none. */
enum gf_err gf_node_state_load(const char *state_dir, struct gf_node_state *st);
enum gf_err gf_node_state_save(const char *state_dir, const struct gf_node_state *st);

/* POST /enroll (st->node_id empty) or the signed poll (st->node_id set). Fills st on
 * accepted/pending; *status says which; msg (cap) receives the server's detail on refusal.
 * server_offset_s receives server time - local time when the server said (Date). */
enum gf_err gf_enroll_call(const struct gf_agent_config *cfg, const struct gf_identity *id,
                           const json_t *inventory, const json_t *fingerprint,
                           struct gf_node_state *st, enum gf_enroll_status *status, char *msg,
                           size_t cap);

#endif
