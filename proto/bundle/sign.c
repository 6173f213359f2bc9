/* SPDX-License-Identifier: Apache-2.0
 *
 * sign.c - Ed25519 signing keys, the signed envelope and the trust root, over libsodium.
 * The envelope carries the exact signed bytes as standard base64 so nothing is ever
 * re-serialised before verification; its decoder is strict (three members, lower-case hex,
 * canonical base64, capped). A trust statement lists a project's keys; statement N+1 is
 * accepted only when a key of statement N signed it, so an agent follows key rotations one
 * step at a time from the statement it was enrolled with.
 */
#include "sign.h"

#include "alloc.h"
#include "bjson.h"
#include "ids.h"
#include "json.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TRUST_TYPE "gatefleet.trust"
#define B64 sodium_base64_VARIANT_ORIGINAL
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const struct gf_json_field envelope_fields[] = {
    {"signed", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"key_id", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"signature", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
};

static const struct gf_json_field trust_fields[] = {
    {"schema", GF_JSON_INT, 1, 0, 0, 0, 0, 0},
    {"type", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"project", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"seq", GF_JSON_INT, 1, 0, 0, 0, 1, INT64_MAX},
    {"created_at", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"keys", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
};

static const struct gf_json_field key_fields[] = {
    {"key_id", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
    {"public_key", GF_JSON_STRING, 1, 0, 0, 0, 0, 0},
};

/* ---- keys and signatures ------------------------------------------------------------- */

void gf_key_id(const unsigned char pk[GF_PUBKEY_LEN], char *out, size_t cap)
{
    unsigned char d[crypto_hash_sha256_BYTES];

    if (out == NULL || cap == 0) {
        return;
    }
    if (cap < GF_KEY_ID_LEN + 1) {
        out[0] = '\0';
        return;
    }
    crypto_hash_sha256(d, pk, GF_PUBKEY_LEN);
    gf_hex_encode(out, cap, d, GF_KEY_ID_LEN / 2);
}

enum gf_err gf_pubkey_parse(const char *hex, unsigned char pk[GF_PUBKEY_LEN])
{
    size_t n = 0;

    if (!gf_bjson_hex_ok(hex, 2 * GF_PUBKEY_LEN) ||
        sodium_hex2bin(pk, GF_PUBKEY_LEN, hex, 2 * GF_PUBKEY_LEN, NULL, &n, NULL) != 0 ||
        n != GF_PUBKEY_LEN) {
        return GF_ERR_INVAL;
    }
    return GF_OK;
}

void gf_sign_detached(const unsigned char sk[GF_SECKEY_LEN], const void *data, size_t len,
                      unsigned char sig[GF_SIG_LEN])
{
    if (sodium_init() < 0) {
        memset(sig, 0, GF_SIG_LEN); /* never verifies */
        return;
    }
    crypto_sign_detached(sig, NULL, len > 0 ? data : (const void *)"", len, sk);
}

int gf_sign_verify(const unsigned char pk[GF_PUBKEY_LEN], const void *data, size_t len,
                   const unsigned char sig[GF_SIG_LEN])
{
    /* sodium_init is idempotent and thread-safe; a library that cannot start fails closed */
    if (sodium_init() < 0 || (data == NULL && len > 0)) {
        return 0;
    }
    return crypto_sign_verify_detached(sig, len > 0 ? data : (const void *)"", len, pk) == 0;
}

/* ---- envelope ------------------------------------------------------------------------ */

enum gf_err gf_envelope_encode(const void *bytes, size_t len, const char *key_id,
                               const unsigned char sig[GF_SIG_LEN], char **out, size_t *outlen)
{
    static const char p1[] = "{\"signed\":\"", p2[] = "\",\"key_id\":\"",
                      p3[] = "\",\"signature\":\"", p4[] = "\"}";
    size_t b64cap = sodium_base64_ENCODED_LEN(len, B64);
    char sighex[2 * GF_SIG_LEN + 1];
    char *buf, *w;
    size_t total;

    if ((bytes == NULL && len > 0) || !gf_bjson_hex_ok(key_id, GF_KEY_ID_LEN)) {
        return GF_ERR_INVAL;
    }
    if (len > GF_MANIFEST_MAX_BYTES) {
        return GF_ERR_TOOBIG;
    }
    total = sizeof(p1) - 1 + b64cap - 1 + sizeof(p2) - 1 + GF_KEY_ID_LEN + sizeof(p3) - 1 +
            2 * GF_SIG_LEN + sizeof(p4) - 1;
    buf = gf_malloc(total + 1);
    if (buf == NULL) {
        return GF_ERR_NOMEM;
    }
    gf_hex_encode(sighex, sizeof(sighex), sig, GF_SIG_LEN);
    w = buf;
    memcpy(w, p1, sizeof(p1) - 1);
    w += sizeof(p1) - 1;
    sodium_bin2base64(w, b64cap, len > 0 ? bytes : (const void *)"", len, B64);
    w += b64cap - 1;
    memcpy(w, p2, sizeof(p2) - 1);
    w += sizeof(p2) - 1;
    memcpy(w, key_id, GF_KEY_ID_LEN);
    w += GF_KEY_ID_LEN;
    memcpy(w, p3, sizeof(p3) - 1);
    w += sizeof(p3) - 1;
    memcpy(w, sighex, 2 * GF_SIG_LEN);
    w += 2 * GF_SIG_LEN;
    memcpy(w, p4, sizeof(p4));
    *out = buf;
    if (outlen != NULL) {
        *outlen = total;
    }
    return GF_OK;
}

/* Canonical standard base64 with padding into a new buffer (NUL-terminated, not counted). */
static enum gf_err b64_decode(const char *b64, size_t b64len, char **out, size_t *outlen,
                              struct gf_diag *diag)
{
    size_t cap = b64len / 4 * 3 + 3;
    size_t n = 0;
    char *bytes;

    if (b64len > sodium_base64_ENCODED_LEN(GF_MANIFEST_MAX_BYTES, B64) - 1) {
        return gf_diag_set(diag, GF_ERR_TOOBIG, "/signed", "signed bytes exceed %u bytes",
                           GF_MANIFEST_MAX_BYTES);
    }
    bytes = gf_malloc(cap + 1);
    if (bytes == NULL) {
        return gf_diag_set(diag, GF_ERR_NOMEM, "/signed", "out of memory");
    }
    if (sodium_base642bin((unsigned char *)bytes, cap, b64, b64len, NULL, &n, NULL, B64) != 0) {
        gf_free(bytes);
        return gf_diag_set(diag, GF_ERR_PARSE, "/signed", "signed must be standard base64");
    }
    if (n > GF_MANIFEST_MAX_BYTES) {
        gf_free(bytes);
        return gf_diag_set(diag, GF_ERR_TOOBIG, "/signed", "signed bytes exceed %u bytes",
                           GF_MANIFEST_MAX_BYTES);
    }
    bytes[n] = '\0';
    *out = bytes;
    *outlen = n;
    return GF_OK;
}

enum gf_err gf_envelope_decode(const char *text, size_t len, struct gf_envelope *e,
                               enum gf_reject *reason, struct gf_diag *diag)
{
    enum gf_reject why = GF_REJECT_MALFORMED;
    json_t *root = NULL;
    const json_t *sgn;
    const char *kid, *sighex;
    size_t n = 0;
    enum gf_err err;

    memset(e, 0, sizeof(*e));
    gf_diag_clear(diag);
    if (len > GF_ENVELOPE_MAX_BYTES) {
        err = gf_diag_set(diag, GF_ERR_TOOBIG, "", "envelope is larger than %u bytes",
                          GF_ENVELOPE_MAX_BYTES);
        goto out;
    }
    err = gf_bjson_parse(text, len, &root, &why, diag);
    if (err == GF_OK) {
        err = gf_bjson_check(root, envelope_fields, NFIELDS(envelope_fields), "", &why, diag);
    }
    if (err != GF_OK) {
        goto out;
    }
    kid = gf_json_str(root, "key_id");
    sighex = gf_json_str(root, "signature");
    sgn = json_object_get(root, "signed");
    if (!gf_bjson_hex_ok(kid, GF_KEY_ID_LEN)) {
        err = gf_bjson_reject(&why, GF_REJECT_MALFORMED, diag, "/key_id",
                              "key_id must be %d lower-case hex characters", GF_KEY_ID_LEN);
        goto out;
    }
    if (!gf_bjson_hex_ok(sighex, 2 * GF_SIG_LEN) ||
        sodium_hex2bin(e->sig, GF_SIG_LEN, sighex, 2 * GF_SIG_LEN, NULL, &n, NULL) != 0 ||
        n != GF_SIG_LEN) {
        err = gf_bjson_reject(&why, GF_REJECT_MALFORMED, diag, "/signature",
                              "signature must be %d lower-case hex characters", 2 * GF_SIG_LEN);
        goto out;
    }
    memcpy(e->key_id, kid, GF_KEY_ID_LEN + 1);
    err = b64_decode(json_string_value(sgn), json_string_length(sgn), &e->bytes, &e->len, diag);
out:
    if (err != GF_OK) {
        memset(e, 0, sizeof(*e));
    } else {
        why = GF_REJECT_NONE;
    }
    json_decref(root);
    if (reason != NULL) {
        *reason = why;
    }
    return err;
}

/* ---- trust root ---------------------------------------------------------------------- */

static const struct gf_trust_key *trust_find(const struct gf_trust *t, const char *key_id)
{
    for (size_t i = 0; i < t->nkeys && i < GF_TRUST_MAX_KEYS; i++) {
        if (strncmp(t->keys[i].key_id, key_id, GF_KEY_ID_LEN + 1) == 0) {
            return &t->keys[i];
        }
    }
    return NULL;
}

enum gf_err gf_trust_check(const struct gf_trust *trust, const struct gf_envelope *e,
                           enum gf_reject *reason)
{
    const struct gf_trust_key *k;
    enum gf_reject why = GF_REJECT_SIGNATURE;

    if (trust == NULL || e == NULL) {
        why = GF_REJECT_MALFORMED;
    } else if ((k = trust_find(trust, e->key_id)) == NULL) {
        why = GF_REJECT_UNKNOWN_KEY;
    } else if (gf_sign_verify(k->pk, e->bytes, e->len, e->sig)) {
        why = GF_REJECT_NONE;
    }
    if (reason != NULL) {
        *reason = why;
    }
    return why == GF_REJECT_NONE ? GF_OK : GF_ERR_CRYPTO;
}

static enum gf_err decode_key(const json_t *o, size_t idx, struct gf_trust *t, enum gf_reject *why,
                              struct gf_diag *diag)
{
    char where[32], kid[GF_KEY_ID_LEN + 1];
    struct gf_trust_key *k = &t->keys[idx];
    enum gf_err err;

    snprintf(where, sizeof(where), "/keys/%zu", idx);
    err = gf_bjson_check(o, key_fields, NFIELDS(key_fields), where, why, diag);
    if (err != GF_OK) {
        return err;
    }
    if (gf_pubkey_parse(gf_json_str(o, "public_key"), k->pk) != GF_OK) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where,
                               "public_key must be 64 lower-case hex characters");
    }
    gf_key_id(k->pk, kid, sizeof(kid));
    if (strcmp(kid, gf_json_str(o, "key_id")) != 0) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where,
                               "key_id is not the key id of public_key");
    }
    if (trust_find(t, kid) != NULL) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, where, "duplicate key");
    }
    memcpy(k->key_id, kid, sizeof(kid));
    t->nkeys = idx + 1;
    return GF_OK;
}

static enum gf_err decode_trust(const json_t *root, struct gf_trust *t, enum gf_reject *why,
                                struct gf_diag *diag)
{
    const char *project = gf_json_str(root, "project");
    const json_t *keys = json_object_get(root, "keys");
    const json_t *k;
    size_t i;
    enum gf_err err;

    if (!gf_bjson_uuid_ok(project)) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/project",
                               "project must be a lower-case UUID");
    }
    memcpy(t->project, project, sizeof(t->project));
    t->seq = (uint64_t)gf_json_int(root, "seq", 0);
    if (gf_bjson_time_parse(gf_json_str(root, "created_at"), &t->created_us) != GF_OK) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/created_at",
                               "created_at must be YYYY-MM-DDTHH:MM:SSZ");
    }
    if (json_array_size(keys) < 1 || json_array_size(keys) > GF_TRUST_MAX_KEYS) {
        return gf_bjson_reject(why, GF_REJECT_MALFORMED, diag, "/keys", "keys must hold 1..%d keys",
                               GF_TRUST_MAX_KEYS);
    }
    json_array_foreach(keys, i, k)
    {
        err = decode_key(k, i, t, why, diag);
        if (err != GF_OK) {
            return err;
        }
    }
    return GF_OK;
}

enum gf_err gf_trust_decode(const char *data, size_t len, struct gf_trust *out,
                            enum gf_reject *reason, struct gf_diag *diag)
{
    enum gf_reject why = GF_REJECT_MALFORMED;
    struct gf_trust t;
    json_t *root = NULL;
    enum gf_err err;

    memset(&t, 0, sizeof(t));
    gf_diag_clear(diag);
    if (len > GF_MANIFEST_MAX_BYTES) {
        err = gf_diag_set(diag, GF_ERR_TOOBIG, "", "trust statement is larger than %u bytes",
                          GF_MANIFEST_MAX_BYTES);
        goto out;
    }
    err = gf_bjson_open(data, len, TRUST_TYPE, trust_fields, NFIELDS(trust_fields), &root, &why,
                        diag);
    if (err == GF_OK) {
        err = decode_trust(root, &t, &why, diag);
    }
    if (err == GF_OK) {
        why = GF_REJECT_NONE;
        *out = t;
    }
out:
    json_decref(root);
    if (reason != NULL) {
        *reason = why;
    }
    return err;
}

static int trust_encodable(const struct gf_trust *t)
{
    char kid[GF_KEY_ID_LEN + 1];

    if (!gf_bjson_uuid_ok(t->project) || t->seq < 1 || t->seq > (uint64_t)INT64_MAX ||
        t->nkeys < 1 || t->nkeys > GF_TRUST_MAX_KEYS) {
        return 0;
    }
    for (size_t i = 0; i < t->nkeys; i++) {
        gf_key_id(t->keys[i].pk, kid, sizeof(kid));
        if (strncmp(kid, t->keys[i].key_id, sizeof(kid)) != 0) {
            return 0;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(t->keys[j].key_id, kid) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

enum gf_err gf_trust_encode(const struct gf_trust *t, char **out, size_t *outlen)
{
    char created[GF_BJSON_TIME_LEN + 1], pkhex[2 * GF_PUBKEY_LEN + 1];
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, GF_MANIFEST_MAX_BYTES);
    if (t == NULL || !trust_encodable(t) ||
        gf_bjson_time_format(t->created_us, created, sizeof(created)) != GF_OK) {
        err = GF_ERR_INVAL;
        goto out;
    }
    err = gf_buf_printf(&b,
                        "{\"schema\":%d,\"type\":\"%s\",\"project\":\"%s\",\"seq\":%" PRIu64
                        ",\"created_at\":\"%s\",\"keys\":[",
                        GF_MANIFEST_SCHEMA, TRUST_TYPE, t->project, t->seq, created);
    for (size_t i = 0; err == GF_OK && i < t->nkeys; i++) {
        gf_hex_encode(pkhex, sizeof(pkhex), t->keys[i].pk, GF_PUBKEY_LEN);
        err = gf_buf_printf(&b, "%s{\"key_id\":\"%s\",\"public_key\":\"%s\"}", i > 0 ? "," : "",
                            t->keys[i].key_id, pkhex);
    }
    if (err == GF_OK) {
        err = gf_buf_puts(&b, "]}");
    }
    if (err == GF_OK) {
        *out = gf_buf_steal(&b, outlen);
    }
out:
    gf_buf_free(&b);
    return err;
}

enum gf_err gf_trust_advance(struct gf_trust *cur, const struct gf_envelope *e,
                             enum gf_reject *reason, struct gf_diag *diag)
{
    struct gf_trust next;
    const struct gf_trust_key *signer;
    enum gf_reject why = GF_REJECT_MALFORMED;
    enum gf_err err;

    err = gf_trust_decode(e->bytes, e->len, &next, &why, diag);
    if (err != GF_OK) {
        goto out;
    }
    if (strncmp(next.project, cur->project, sizeof(next.project)) != 0) {
        err = gf_bjson_reject(&why, GF_REJECT_PROJECT, diag, "/project",
                              "statement is for project %s, not %.36s", next.project, cur->project);
        goto out;
    }
    if (cur->seq == UINT64_MAX || next.seq != cur->seq + 1) {
        err = gf_bjson_reject(&why, GF_REJECT_TRUST, diag, "/seq",
                              "statement seq %" PRIu64 " does not follow %" PRIu64, next.seq,
                              cur->seq);
        goto out;
    }
    signer = trust_find(cur, e->key_id);
    if (signer == NULL) {
        gf_bjson_reject(&why, GF_REJECT_TRUST, diag, "/key_id",
                        "statement is not signed by a key of statement %" PRIu64, cur->seq);
        err = GF_ERR_CRYPTO;
        goto out;
    }
    if (!gf_sign_verify(signer->pk, e->bytes, e->len, e->sig)) {
        gf_bjson_reject(&why, GF_REJECT_SIGNATURE, diag, "/signature",
                        "signature does not verify with key %s", signer->key_id);
        err = GF_ERR_CRYPTO;
        goto out;
    }
    *cur = next;
    why = GF_REJECT_NONE;
out:
    if (reason != NULL) {
        *reason = why;
    }
    return err;
}
