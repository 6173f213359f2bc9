/* SPDX-License-Identifier: Apache-2.0
 *
 * h_enroll.c - /api/v1/enroll and /api/v1/enroll/{node_id}: agents enrolling themselves
 * (protocol in docs/mqtt.md). POST carries an enrollment token, the node's Ed25519 public key,
 * a hardware fingerprint and the inventory, and is signed with that key (proof of
 * possession, nodeauth.h); the same key in the same project is always the
 * same node (a restart or a lost answer never makes a duplicate, and never uses up the
 * token). The node is accepted at once (auto-accept token, or a key an operator
 * pre-authorised) or waits as pending; a pending agent polls with a request signed by its
 * key. Accepted answers carry the broker URL and the node's broker credentials; the
 * password is derived from the master key (core/secrets.h), never stored, and the broker
 * account is provisioned by the MQTT side (broker_accounts, mqtt/provision.c).
 */
#include "handlers.h"

#include "../../core/app.h"
#include "../../core/secrets.h"
#include "../../store/q_enroll.h"
#include "../nodeauth.h"
#include "../respond.h"
#include "alloc.h"
#include "gf_limits.h"
#include "ids.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GF_ENROLL_INVENTORY_MAX (64u * 1024u)
#define GF_ENROLL_POLL_AFTER 5

/* The accepted answer: node id, broker session parameters, keepalive. */
static enum gf_err reply_accepted(struct gf_req *r, unsigned status, const char *node_id,
                                  const char *cred_gen, const char *url)
{
    char password[48], root[80];
    json_t *body;

    gf_secret_derive(gf_req_app(r)->master_key, "broker-password", node_id,
                     strtol(cred_gen, NULL, 10), password, sizeof(password));
    snprintf(root, sizeof(root), "gf/v1/n/%s/", node_id);
    body = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:i}, s:[]}", "node_id", node_id,
                     "status", "accepted", "mqtt", "url", url, "client_id", node_id, "username",
                     node_id, "password", password, "topic_root", root, "keepalive", 60,
                     "signing_keys");
    sodium_memzero(password, sizeof(password));
    if (body == NULL) {
        return GF_ERR_NOMEM;
    }
    return gf_req_reply_json(r, status, body);
}

static enum gf_err reply_pending(struct gf_req *r, const char *node_id)
{
    json_t *body = json_pack("{s:s, s:s, s:i}", "node_id", node_id, "status", "pending",
                             "poll_after", GF_ENROLL_POLL_AFTER);

    return body ? gf_req_reply_json(r, 202, body) : GF_ERR_NOMEM;
}

static enum gf_err refuse(struct gf_req *r, const char *status)
{
    return gf_req_fail(r, GF_ERR_PERM, "",
                       "this node is %s in its project; it must not retry (an operator can "
                       "accept it again)",
                       status);
}

static enum gf_err no_cluster(struct gf_req *r)
{
    return gf_req_fail(r, GF_ERR_UNAVAILABLE, "",
                       "the project has no broker cluster yet; retry later");
}

/* Decode the 32-byte public key text into hex (cap >= 65). */
static enum gf_err public_key_hex(struct gf_req *r, const char *text, char *hex, size_t cap)
{
    unsigned char pk[40];

    if (gf_b64url_decode(pk, sizeof(pk), text) != 32) {
        return gf_req_fail(r, GF_ERR_INVAL, "/public_key",
                           "/public_key must be an Ed25519 public key: 32 bytes in base64url");
    }
    gf_hex_encode(hex, cap, pk, 32);
    return GF_OK;
}

/* Fingerprint as "machine_id=...;dmi_serial=..." (both optional, each at most 128). */
static enum gf_err fingerprint_text(struct gf_req *r, const json_t *fp, char *out, size_t cap)
{
    static const char *const keys[] = {"machine_id", "dmi_serial"};
    size_t used = 0;

    out[0] = '\0';
    if (fp == NULL || json_is_null(fp)) {
        return GF_OK;
    }
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(fp, keys[i]);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        if (!json_is_string(v) || json_string_length(v) > 128) {
            return gf_req_fail(r, GF_ERR_INVAL, i == 0 ? "/fingerprint/machine_id"
                                                       : "/fingerprint/dmi_serial",
                               "fingerprint members must be strings of at most 128 characters");
        }
        int n = snprintf(out + used, cap - used, "%s%s=%s", used ? ";" : "", keys[i],
                         json_string_value(v));
        if (n < 0 || (size_t)n >= cap - used) {
            return GF_ERR_TOOBIG;
        }
        used += (size_t)n;
    }
    return GF_OK;
}

enum gf_err gf_h_enroll(struct gf_req *r)
{
    static const struct gf_json_field fields[] = {
        {"token", GF_JSON_STRING, 1, 0, 1, 200, 0, 0},
        {"public_key", GF_JSON_STRING, 1, 0, 43, 43, 0, 0},
        {"fingerprint", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"inventory", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
        {"name", GF_JSON_STRING, 0, 1, 1, GF_LIMIT_NAME_CHARS, 0, 0},
    };
    char hash[GF_SHA256_HEX_LEN + 1], pk_hex[72], fp[300], name[GF_LIMIT_NAME_CHARS * 4 + 1];
    struct gf_dbconn *db;
    PGresult *tok = NULL, *res = NULL, *cl = NULL;
    json_t *body = NULL;
    char *inv = NULL;
    enum gf_err err = gf_req_json(r, fields, sizeof(fields) / sizeof(fields[0]), &body);

    if (err != GF_OK) {
        return err;
    }
    if ((err = public_key_hex(r, gf_json_str(body, "public_key"), pk_hex, sizeof(pk_hex))) !=
            GF_OK ||
        (err = fingerprint_text(r, json_object_get(body, "fingerprint"), fp, sizeof(fp))) != GF_OK) {
        goto out;
    }
    /* Proof of possession: the request is signed with the key it enrolls. Without it, a
     * holder of a token and of another node's public key (which operators can read) could
     * fetch that node's broker credentials. */
    if ((err = gf_nodeauth_verify(r, NULL, pk_hex)) != GF_OK) {
        goto out;
    }
    json_t *inventory = json_object_get(body, "inventory");
    inv = inventory && json_is_object(inventory) ? json_dumps(inventory, JSON_COMPACT)
                                                 : gf_strdup("{}");
    if (inv == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if (strlen(inv) > GF_ENROLL_INVENTORY_MAX) {
        err = gf_req_fail(r, GF_ERR_TOOBIG, "/inventory", "/inventory is larger than 64 KiB");
        goto out;
    }
    const char *token = gf_json_str(body, "token");
    gf_sha256_hex(hash, sizeof(hash), token, strlen(token));
    if ((err = gf_req_db(r, &db)) != GF_OK) {
        goto out;
    }
    const char *tp[1] = {hash};
    if ((err = gf_db_exec(db, &gf_q_etoken_use, tp, &tok)) != GF_OK) {
        err = gf_req_db_fail(r, err, "enrollment token", NULL);
        goto out;
    }
    if (PQntuples(tok) != 1) {
        err = gf_req_fail(r, GF_ERR_AUTH, "/token", "unknown enrollment token");
        goto out;
    }
    /* A used-up token still re-enrolls a node it already knows (that uses nothing). */
    const char *problem = gf_db_val(tok, 0, 5);
    if (problem != NULL && strcmp(problem, "used_up") != 0) {
        err = gf_req_fail(r, GF_ERR_AUTH, "/token", "the enrollment token %s",
                          problem[0] == 'r' ? "was revoked" : "has expired");
        goto out;
    }
    const char *token_id = gf_db_val(tok, 0, 0), *project = gf_db_val(tok, 0, 1);
    gf_req_audit_tenant(r, gf_db_val(tok, 0, 2));
    const char *cp[1] = {project};
    if ((err = gf_db_exec(db, &gf_q_project_cluster, cp, &cl)) != GF_OK) {
        err = gf_req_db_fail(r, err, "broker cluster", NULL);
        goto out;
    }
    const char *cluster = gf_db_val(cl, 0, 0), *url = gf_db_val(cl, 0, 1);
    const char *fp_p[2] = {project, pk_hex};
    if ((err = gf_db_exec(db, &gf_q_enroll_find, fp_p, &res)) != GF_OK) {
        err = gf_req_db_fail(r, err, "node", NULL);
        goto out;
    }
    if (PQntuples(res) == 1) {
        /* Known key: the same node. Refresh what it told us; no token use. */
        const char *status = gf_db_val(res, 0, 1);
        if (strcmp(status, "rejected") == 0 || strcmp(status, "decommissioned") == 0) {
            err = refuse(r, status);
            goto out;
        }
        char found[40];
        snprintf(found, sizeof(found), "%s", gf_db_val(res, 0, 0));
        const char *up[5] = {found, fp, inv, token_id, cluster};
        PQclear(res);
        res = NULL;
        if ((err = gf_db_exec(db, &gf_q_enroll_update, up, &res)) != GF_OK) {
            err = gf_req_db_fail(r, err, "node", NULL);
            goto out;
        }
    } else if (problem != NULL) {
        err = gf_req_fail(r, GF_ERR_AUTH, "/token",
                          "the enrollment token has been used its maximum number of times");
        goto out;
    } else {
        const char *auto_accept = gf_db_val(tok, 0, 3);
        const char *host = inventory ? json_string_value(json_object_get(inventory, "hostname"))
                                     : NULL;
        snprintf(name, sizeof(name), "%s",
                 gf_json_str(body, "name") ? gf_json_str(body, "name") : host ? host : "");
        const char *ip[9] = {project, name,   auto_accept[0] == 't' ? "accepted" : "pending",
                             pk_hex,  fp,     gf_db_val(tok, 0, 4),
                             inv,     token_id, cluster};
        PQclear(res);
        res = NULL;
        const char *use[1] = {token_id};
        if ((err = gf_db_exec(db, &gf_q_enroll_insert, ip, &res)) != GF_OK ||
            (err = gf_db_exec(db, &gf_q_etoken_count_use, use, NULL)) != GF_OK) {
            err = gf_req_db_fail(r, err, "node", NULL);
            goto out;
        }
    }
    const char *node_id = gf_db_val(res, 0, 0), *status = gf_db_val(res, 0, 1);
    gf_req_audit_object(r, node_id);
    gf_req_audit_actor(r, "node", node_id);
    gf_req_audit_detail(r, json_pack("{s:s, s:s}", "status", status, "token", token_id));
    if (strcmp(status, "pending") == 0) {
        err = reply_pending(r, node_id);
    } else if (cluster == NULL) {
        err = no_cluster(r);
    } else if ((err = gf_h_want_account(r, db, cluster, node_id, gf_db_val(res, 0, 2))) ==
               GF_OK) {
        err = reply_accepted(r, 200, node_id, gf_db_val(res, 0, 2), url);
    }
out:
    PQclear(cl);
    PQclear(res);
    PQclear(tok);
    gf_free(inv);
    json_decref(body);
    return err;
}

enum gf_err gf_h_enroll_poll(struct gf_req *r)
{
    const char *node_id = gf_req_param(r, "node_id");
    const char *p[1] = {node_id};
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err = gf_req_db(r, &db);

    if (err != GF_OK) {
        return err;
    }
    if ((err = gf_db_exec(db, &gf_q_enroll_poll, p, &res)) != GF_OK) {
        return gf_req_db_fail(r, err, "node", NULL);
    }
    if (PQntuples(res) != 1) {
        /* Unknown node: the same answer as a bad signature. */
        err = gf_nodeauth_verify(r, node_id, NULL);
        goto out;
    }
    if ((err = gf_nodeauth_verify(r, node_id, gf_db_val(res, 0, 1))) != GF_OK) {
        goto out;
    }
    const char *status = gf_db_val(res, 0, 0);
    if (strcmp(status, "pending") == 0) {
        err = reply_pending(r, node_id);
    } else if (strcmp(status, "accepted") != 0) {
        err = refuse(r, status);
    } else if (gf_db_val(res, 0, 3) == NULL) {
        err = no_cluster(r);
    } else {
        err = reply_accepted(r, 200, node_id, gf_db_val(res, 0, 2), gf_db_val(res, 0, 3));
    }
out:
    PQclear(res);
    return err;
}
