/* SPDX-License-Identifier: Apache-2.0
 *
 * trustroot.c - project signing keys and the trust statement chain (see trustroot.h).
 * Changes take the project's trust advisory lock first, so two concurrent changes
 * (two replicas, two operators) produce seq N and N+1, never two N.
 */
#define GF_LOG_MODULE "trust"

#include "trustroot.h"

#include "../core/secrets.h"
#include "../store/q_bundles.h"
#include "alloc.h"
#include "ids.h"
#include "log.h"
#include "timefmt.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEALED_CAP (2 + 2 * (2 * GF_SECKEY_LEN + 1 + 40) + 1)

enum gf_err gf_trustroot_signer(struct gf_dbconn *db, const unsigned char master[32],
                                const char *project, const char *joining_key_id,
                                unsigned char sk[GF_SECKEY_LEN], char key_id[GF_KEY_ID_LEN + 1])
{
    char hex[2 * GF_SECKEY_LEN + 2];
    const char *p[3] = {project, joining_key_id ? "true" : "false", joining_key_id};
    PGresult *res = NULL;
    size_t n = 0;
    enum gf_err err = gf_db_exec(db, &gf_q_trust_signer, p, &res);

    if (err != GF_OK) {
        return err;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return GF_ERR_NOTFOUND;
    }
    snprintf(key_id, GF_KEY_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    err = gf_secret_open(master, PQgetvalue(res, 0, 1), hex, sizeof(hex));
    PQclear(res);
    if (err == GF_OK && (sodium_hex2bin(sk, GF_SECKEY_LEN, hex, strlen(hex), NULL, &n, NULL) != 0 ||
                         n != GF_SECKEY_LEN)) {
        err = GF_ERR_CRYPTO;
    }
    if (err != GF_OK) {
        gf_log_error("cannot open a project signing key (master key changed?)",
                     "project=%s key_id=%s", project, key_id);
    }
    sodium_memzero(hex, sizeof(hex));
    return err;
}

enum gf_err gf_trustroot_new_server_key(struct gf_dbconn *db, const unsigned char master[32],
                                        const char *project, const char *name, const char *user,
                                        char key_id[GF_KEY_ID_LEN + 1], PGresult **row)
{
    unsigned char pk[GF_PUBKEY_LEN], sk[GF_SECKEY_LEN];
    char sk_hex[2 * GF_SECKEY_LEN + 1], pk_hex[2 * GF_PUBKEY_LEN + 1], sealed[SEALED_CAP];
    enum gf_err err;

    crypto_sign_keypair(pk, sk);
    gf_key_id(pk, key_id, GF_KEY_ID_LEN + 1);
    gf_hex_encode(sk_hex, sizeof(sk_hex), sk, sizeof(sk));
    gf_hex_encode(pk_hex, sizeof(pk_hex), pk, sizeof(pk));
    err = gf_secret_seal(master, sk_hex, strlen(sk_hex), sealed, sizeof(sealed));
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(sk_hex, sizeof(sk_hex));
    if (err != GF_OK) {
        return err;
    }
    const char *p[6] = {project, key_id, pk_hex, sealed, name, user};
    return gf_db_exec(db, &gf_q_key_insert, p, row);
}

/* Statement text for seq over the rows (key id, public hex) of keys. */
static enum gf_err build_statement(const char *project, uint64_t seq, const PGresult *keys,
                                   char **text, size_t *len, struct gf_trust *t,
                                   struct gf_diag *diag)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->project, sizeof(t->project), "%s", project);
    t->seq = seq;
    t->created_us = gf_time_now_us() / 1000000 * 1000000;
    for (int r = 0; r < PQntuples(keys); r++) {
        if (t->nkeys >= GF_TRUST_MAX_KEYS) {
            return gf_diag_set(diag, GF_ERR_CONFLICT, "",
                               "a trust root holds at most %d keys; "
                               "retire one first",
                               GF_TRUST_MAX_KEYS);
        }
        struct gf_trust_key *k = &t->keys[t->nkeys++];
        snprintf(k->key_id, sizeof(k->key_id), "%s", PQgetvalue(keys, r, 0));
        if (gf_pubkey_parse(PQgetvalue(keys, r, 1), k->pk) != GF_OK) {
            return GF_ERR_INTERNAL;
        }
    }
    if (t->nkeys == 0) {
        return gf_diag_set(diag, GF_ERR_INVAL, "",
                           "the project's trust root would have no key "
                           "left; add the successor key before retiring this one");
    }
    return gf_trust_encode(t, text, len);
}

/* Make keys of t active and the others retired. */
static enum gf_err apply_root(struct gf_dbconn *db, const char *project, const struct gf_trust *t)
{
    char arr[GF_TRUST_MAX_KEYS * (GF_KEY_ID_LEN + 1) + 3];
    size_t used = 0;

    arr[used++] = '{';
    for (size_t i = 0; i < t->nkeys; i++) {
        used += (size_t)snprintf(arr + used, sizeof(arr) - used, "%s%s", i ? "," : "",
                                 t->keys[i].key_id);
    }
    snprintf(arr + used, sizeof(arr) - used, "}");
    const char *p[2] = {project, arr};
    return gf_db_exec(db, &gf_q_keys_apply, p, NULL);
}

enum gf_err gf_trustroot_change(struct gf_dbconn *db, const unsigned char master[32],
                                const char *project, const char *retiring, const char *joining,
                                uint64_t *seq, int *is_signed, struct gf_diag *diag)
{
    const char *lp[1] = {project};
    const char *kp[3] = {project, retiring, joining};
    unsigned char sk[GF_SECKEY_LEN], sig[GF_SIG_LEN];
    char key_id[GF_KEY_ID_LEN + 1], sig_hex[2 * GF_SIG_LEN + 1], seqtxt[24];
    PGresult *last = NULL, *keys = NULL;
    struct gf_trust t;
    char *text = NULL;
    size_t len = 0;
    enum gf_err err;

    *is_signed = 0;
    if ((err = gf_db_exec(db, &gf_q_trust_lock, lp, NULL)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_trust_last, lp, &last)) != GF_OK) {
        goto out;
    }
    if (PQntuples(last) == 1 && strcmp(PQgetvalue(last, 0, 1), "f") == 0) {
        err = gf_diag_set(diag, GF_ERR_CONFLICT, "",
                          "trust statement %s is waiting for an "
                          "offline signature; sign it (POST .../trust/signature) first",
                          PQgetvalue(last, 0, 0));
        goto out;
    }
    *seq = PQntuples(last) == 1 ? strtoull(PQgetvalue(last, 0, 0), NULL, 10) + 1 : 1;
    if ((err = gf_db_exec(db, &gf_q_trust_next_keys, kp, &keys)) != GF_OK ||
        (err = build_statement(project, *seq, keys, &text, &len, &t, diag)) != GF_OK) {
        goto out;
    }
    /* Signed by the old root; the first statement by a key of its own. */
    err = gf_trustroot_signer(db, master, project, *seq == 1 ? joining : NULL, sk, key_id);
    snprintf(seqtxt, sizeof(seqtxt), "%llu", (unsigned long long)*seq);
    if (err == GF_OK) {
        gf_sign_detached(sk, text, len, sig);
        sodium_memzero(sk, sizeof(sk));
        gf_hex_encode(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
        const char *ip[5] = {project, seqtxt, text, key_id, sig_hex};
        if ((err = gf_db_exec(db, &gf_q_trust_insert, ip, NULL)) == GF_OK &&
            (err = apply_root(db, project, &t)) == GF_OK) {
            *is_signed = 1;
        }
    } else if (err == GF_ERR_NOTFOUND) {
        const char *ip[5] = {project, seqtxt, text, NULL, NULL};
        err = gf_db_exec(db, &gf_q_trust_insert, ip, NULL);
    }
    if (err == GF_OK) {
        gf_log_info(*is_signed ? "trust root changed"
                               : "trust root change waits for an offline "
                                 "signature",
                    "project=%s seq=%s keys=%zu", project, seqtxt, t.nkeys);
    }
out:
    gf_free(text);
    PQclear(last);
    PQclear(keys);
    return err;
}

enum gf_err gf_trustroot_verify(struct gf_dbconn *db, const char *project, const char *key_id,
                                const char *sig_hex, const void *bytes, size_t len,
                                enum gf_reject *reason)
{
    const char *p[2] = {project, key_id};
    unsigned char pk[GF_PUBKEY_LEN], sig[GF_SIG_LEN];
    PGresult *res = NULL;
    size_t n = 0;
    enum gf_err err = gf_db_exec(db, &gf_q_trust_key_pub, p, &res);

    if (err != GF_OK) {
        return err;
    }
    *reason = GF_REJECT_UNKNOWN_KEY;
    err = GF_ERR_CRYPTO;
    if (PQntuples(res) == 1 && gf_pubkey_parse(PQgetvalue(res, 0, 0), pk) == GF_OK) {
        *reason = GF_REJECT_SIGNATURE;
        if (sodium_hex2bin(sig, sizeof(sig), sig_hex, strlen(sig_hex), NULL, &n, NULL) == 0 &&
            n == sizeof(sig) && gf_sign_verify(pk, bytes, len, sig)) {
            *reason = GF_REJECT_NONE;
            err = GF_OK;
        }
    }
    PQclear(res);
    return err;
}

enum gf_err gf_trustroot_sign_pending(struct gf_dbconn *db, const char *project, const char *key_id,
                                      const char *sig_hex, enum gf_reject *reason,
                                      struct gf_diag *diag)
{
    const char *lp[1] = {project};
    PGresult *pend = NULL;
    struct gf_trust t;
    enum gf_err err;

    *reason = GF_REJECT_NONE;
    if ((err = gf_db_exec(db, &gf_q_trust_lock, lp, NULL)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_trust_pending, lp, &pend)) != GF_OK) {
        goto out;
    }
    if (PQntuples(pend) != 1) {
        err = gf_diag_set(diag, GF_ERR_CONFLICT, "",
                          "no trust statement is waiting for a "
                          "signature");
        goto out;
    }
    const char *seq = PQgetvalue(pend, 0, 0), *text = PQgetvalue(pend, 0, 1);
    size_t len = strlen(text);
    if ((err = gf_trust_decode(text, len, &t, reason, diag)) != GF_OK) {
        err = GF_ERR_INTERNAL;
        goto out;
    }
    if (strcmp(seq, "1") == 0) {
        /* The first root is signed by one of its own keys. */
        unsigned char sig[GF_SIG_LEN];
        size_t n = 0;
        *reason = GF_REJECT_UNKNOWN_KEY;
        err = GF_ERR_CRYPTO;
        for (size_t i = 0; i < t.nkeys; i++) {
            if (strcmp(t.keys[i].key_id, key_id) == 0) {
                *reason = GF_REJECT_SIGNATURE;
                if (sodium_hex2bin(sig, sizeof(sig), sig_hex, strlen(sig_hex), NULL, &n, NULL) ==
                        0 &&
                    n == sizeof(sig) && gf_sign_verify(t.keys[i].pk, text, len, sig)) {
                    *reason = GF_REJECT_NONE;
                    err = GF_OK;
                }
            }
        }
    } else {
        err = gf_trustroot_verify(db, project, key_id, sig_hex, text, len, reason);
    }
    if (err != GF_OK) {
        gf_diag_set(diag, GF_ERR_CRYPTO, "/signature",
                    "the signature is not by a key of the "
                    "current trust root over statement %s (%s)",
                    seq, gf_reject_str(*reason));
        goto out;
    }
    const char *sp[4] = {project, seq, key_id, sig_hex};
    if ((err = gf_db_exec(db, &gf_q_trust_sign, sp, NULL)) == GF_OK) {
        err = apply_root(db, project, &t);
    }
out:
    PQclear(pend);
    return err;
}

enum gf_err gf_trustroot_sign(struct gf_dbconn *db, const unsigned char master[32],
                              const char *project, const void *bytes, size_t len,
                              char key_id[GF_KEY_ID_LEN + 1], char sig_hex[2 * GF_SIG_LEN + 1],
                              struct gf_diag *diag)
{
    unsigned char sk[GF_SECKEY_LEN], sig[GF_SIG_LEN];
    enum gf_err err = gf_trustroot_signer(db, master, project, NULL, sk, key_id);

    if (err == GF_ERR_NOTFOUND) {
        /* No server key: when the project has no key at all, make its first one. */
        const char *lp[1] = {project};
        PGresult *last = NULL;
        if ((err = gf_db_exec(db, &gf_q_trust_lock, lp, NULL)) != GF_OK ||
            (err = gf_db_exec(db, &gf_q_trust_last, lp, &last)) != GF_OK) {
            return err;
        }
        int has_root = PQntuples(last) > 0;
        PQclear(last);
        if (has_root) {
            return gf_diag_set(diag, GF_ERR_CONFLICT, "/signing",
                               "the project's trust root holds no server key; upload with "
                               "\"signing\": \"offline\" and post an operator's signature");
        }
        uint64_t seq;
        int is_signed;
        char first[GF_KEY_ID_LEN + 1];
        if ((err = gf_trustroot_new_server_key(db, master, project, "project key", NULL, first,
                                               NULL)) != GF_OK ||
            (err = gf_trustroot_change(db, master, project, NULL, first, &seq, &is_signed, diag)) !=
                GF_OK ||
            (err = gf_trustroot_signer(db, master, project, NULL, sk, key_id)) != GF_OK) {
            return err;
        }
    } else if (err != GF_OK) {
        return err;
    }
    gf_sign_detached(sk, bytes, len, sig);
    sodium_memzero(sk, sizeof(sk));
    gf_hex_encode(sig_hex, 2 * GF_SIG_LEN + 1, sig, sizeof(sig));
    return GF_OK;
}

enum gf_err gf_trustroot_envelope(const char *bytes, size_t len, const char *key_id,
                                  const char *sig_hex, char **out, size_t *outlen)
{
    unsigned char sig[GF_SIG_LEN];
    size_t n = 0;

    if (sodium_hex2bin(sig, sizeof(sig), sig_hex, strlen(sig_hex), NULL, &n, NULL) != 0 ||
        n != sizeof(sig)) {
        return GF_ERR_INTERNAL;
    }
    return gf_envelope_encode(bytes, len, key_id, sig, out, outlen);
}
