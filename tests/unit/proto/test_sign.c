/* SPDX-License-Identifier: Apache-2.0
 *
 * test_sign.c - keys, envelopes and the trust root: key ids, strict envelope decoding
 * (members, hex, canonical base64, caps), gf_trust_check (good signature, flipped byte,
 * unknown key, trusted key id with a foreign signature), trust statements (round trip and
 * refusals) and gf_trust_advance (next statement, wrong signer, skipped seq, other project).
 */
#include "alloc.h"
#include "gf_test.h"
#include "ids.h"
#include "manifest.h"
#include "sign.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROJECT "123e4567-e89b-12d3-a456-426614174000"
#define OTHER "123e4567-e89b-12d3-a456-426614174001"
#define T0 (INT64_C(1795420800) * 1000000)

struct key {
    unsigned char pk[GF_PUBKEY_LEN], sk[GF_SECKEY_LEN];
    char id[GF_KEY_ID_LEN + 1];
};

static void key_new(struct key *k)
{
    crypto_sign_keypair(k->pk, k->sk);
    gf_key_id(k->pk, k->id, sizeof(k->id));
}

/* Envelope of bytes signed by signer but claiming key_id. Caller frees. */
static char *envelope(const struct key *signer, const char *key_id, const char *bytes, size_t len)
{
    unsigned char sig[GF_SIG_LEN];
    char *out = NULL;
    size_t n;

    gf_sign_detached(signer->sk, bytes, len, sig);
    CHECK(gf_envelope_encode(bytes, len, key_id, sig, &out, &n) == GF_OK && n == strlen(out));
    return out;
}

static enum gf_err env_decode(const char *text, struct gf_envelope *e, enum gf_reject *r)
{
    return gf_envelope_decode(text, strlen(text), e, r, NULL);
}

static void test_keys(void)
{
    struct key a;
    unsigned char pk[GF_PUBKEY_LEN], d[32], sig[GF_SIG_LEN];
    char hex[65], want[33], small[8] = "x";

    key_new(&a);
    crypto_hash_sha256(d, a.pk, sizeof(a.pk));
    gf_hex_encode(want, sizeof(want), d, 16);
    CHECK_STR(a.id, want);
    gf_key_id(a.pk, small, sizeof(small));
    CHECK(small[0] == '\0');
    gf_hex_encode(hex, sizeof(hex), a.pk, sizeof(a.pk));
    CHECK(gf_pubkey_parse(hex, pk) == GF_OK && memcmp(pk, a.pk, sizeof(pk)) == 0);
    hex[0] = 'A';
    CHECK(gf_pubkey_parse(hex, pk) == GF_ERR_INVAL);
    hex[63] = '\0';
    CHECK(gf_pubkey_parse(hex, pk) == GF_ERR_INVAL);
    CHECK(gf_pubkey_parse(NULL, pk) == GF_ERR_INVAL);
    gf_sign_detached(a.sk, "abc", 3, sig);
    CHECK(gf_sign_verify(a.pk, "abc", 3, sig));
    CHECK(!gf_sign_verify(a.pk, "abd", 3, sig));
    gf_sign_detached(a.sk, NULL, 0, sig);
    CHECK(gf_sign_verify(a.pk, NULL, 0, sig) && gf_sign_verify(a.pk, "", 0, sig));
}

static void test_envelope(void)
{
    struct key a;
    struct gf_envelope e;
    enum gf_reject r;
    char *text, buf[600];
    const char *sig128;

    key_new(&a);
    text = envelope(&a, a.id, "A", 1);
    CHECK(strncmp(text, "{\"signed\":\"QQ==\",\"key_id\":\"", 27) == 0);
    CHECK(env_decode(text, &e, &r) == GF_OK && r == GF_REJECT_NONE && e.len == 1 &&
          e.bytes[0] == 'A' && e.bytes[1] == '\0');
    CHECK_STR(e.key_id, a.id);
    CHECK(gf_sign_verify(a.pk, e.bytes, e.len, e.sig));
    gf_free(e.bytes);
    sig128 = strstr(text, "\"signature\":\"") + 13;

#define ENV(b64, kid, extra)                                                                       \
    snprintf(buf, sizeof(buf), "{\"signed\":\"%s\",\"key_id\":\"%s\",\"signature\":\"%.128s\"%s}", \
             (b64), (kid), sig128, (extra))
#define ENV_BAD(err_)                                                                              \
    do {                                                                                           \
        CHECK(env_decode(buf, &e, &r) == (err_) && r == GF_REJECT_MALFORMED && e.bytes == NULL);   \
    } while (0)

    ENV("QQ==", a.id, "");
    CHECK(env_decode(buf, &e, &r) == GF_OK);
    gf_free(e.bytes);
    ENV("", a.id, "");
    CHECK(env_decode(buf, &e, &r) == GF_OK && e.len == 0 && e.bytes != NULL);
    gf_free(e.bytes);
    ENV("QQ==", a.id, ",\"extra\":1");
    ENV_BAD(GF_ERR_PARSE);
    ENV("QQ==", a.id, ",\"signed\":\"QQ==\"");
    ENV_BAD(GF_ERR_PARSE);
    ENV("QQ", a.id, "");
    ENV_BAD(GF_ERR_PARSE);
    ENV("QR==", a.id, "");
    ENV_BAD(GF_ERR_PARSE);
    ENV("Q Q==", a.id, "");
    ENV_BAD(GF_ERR_PARSE);
    ENV("QQ-_", a.id, "");
    ENV_BAD(GF_ERR_PARSE);
    ENV("QQ==", "ABCDEF0123456789abcdef0123456789", "");
    ENV_BAD(GF_ERR_PARSE);
    ENV("QQ==", "abcdef", "");
    ENV_BAD(GF_ERR_PARSE);
    snprintf(buf, sizeof(buf), "{\"signed\":\"QQ==\",\"key_id\":\"%s\",\"signature\":\"%.127s\"}",
             a.id, sig128);
    ENV_BAD(GF_ERR_PARSE);
    snprintf(buf, sizeof(buf), "{\"signed\":\"QQ==\",\"key_id\":\"%s\"}", a.id);
    ENV_BAD(GF_ERR_PARSE);
    snprintf(buf, sizeof(buf), "{\"signed\":1,\"key_id\":\"%s\",\"signature\":\"%.128s\"}", a.id,
             sig128);
    ENV_BAD(GF_ERR_PARSE);
    gf_free(text);

    /* caps: a maximal payload passes, one byte more cannot even be encoded or decoded */
    {
        size_t n = GF_MANIFEST_MAX_BYTES;
        char *big = calloc(1, n + 1), *out = NULL, *huge;
        unsigned char sig[GF_SIG_LEN] = {0};
        size_t len, b64 = sodium_base64_ENCODED_LEN(n + 3, sodium_base64_VARIANT_ORIGINAL);
        memset(big, 'x', n);
        CHECK(gf_envelope_encode(big, n, a.id, sig, &out, &len) == GF_OK &&
              len <= GF_ENVELOPE_MAX_BYTES);
        CHECK(gf_envelope_decode(out, len, &e, &r, NULL) == GF_OK && e.len == n);
        gf_free(e.bytes);
        gf_free(out);
        CHECK(gf_envelope_encode(big, n + 1, a.id, sig, &out, &len) == GF_ERR_TOOBIG);
        huge = calloc(1, b64 + 300);
        memcpy(huge, "{\"signed\":\"", 11);
        sodium_bin2base64(huge + 11, b64, (const unsigned char *)big, n - 1,
                          sodium_base64_VARIANT_ORIGINAL);
        /* n - 1 bytes (a multiple of 3) encode without padding; 4 more characters make
         * n + 2 bytes in a string no longer than the base64 of n bytes */
        len = strlen(huge);
        snprintf(huge + len, 300, "AAAA\",\"key_id\":\"%s\",\"signature\":\"%0128d\"}", a.id, 0);
        CHECK(gf_envelope_decode(huge, strlen(huge), &e, &r, NULL) == GF_ERR_TOOBIG &&
              r == GF_REJECT_MALFORMED && e.bytes == NULL);
        CHECK(gf_envelope_decode(huge, GF_ENVELOPE_MAX_BYTES + 1, &e, &r, NULL) == GF_ERR_TOOBIG);
        free(huge);
        free(big);
        CHECK(gf_envelope_encode("A", 1, "nothex", sig, &out, &len) == GF_ERR_INVAL);
    }
}

static void trust_one(struct gf_trust *t, const char *project, uint64_t seq,
                      const struct key *const *keys, size_t n)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->project, sizeof(t->project), "%s", project);
    t->seq = seq;
    t->created_us = T0 + (int64_t)seq * 1000000;
    for (size_t i = 0; i < n; i++) {
        memcpy(t->keys[i].pk, keys[i]->pk, GF_PUBKEY_LEN);
        memcpy(t->keys[i].key_id, keys[i]->id, sizeof(keys[i]->id));
    }
    t->nkeys = n;
}

static void test_check(void)
{
    struct key a, b, c;
    const struct key *ka[] = {&a};
    struct gf_trust t;
    struct gf_envelope e;
    enum gf_reject r;
    static const char m[] =
        "{\"schema\":1,\"type\":\"gatefleet.bundle\",\"project\":\"" PROJECT "\",\"name\":\"nx\","
        "\"version\":1,\"created_at\":\"2026-11-23T08:00:00Z\",\"expires_at\":"
        "\"2027-11-23T08:00:00Z\",\"files\":[],\"actions\":[],\"health_timeout_s\":60}";
    char *text, flipped[sizeof(m)];
    struct gf_manifest man;

    key_new(&a);
    key_new(&b);
    key_new(&c);
    trust_one(&t, PROJECT, 1, ka, 1);

    /* the whole path: envelope -> trust check -> manifest over the same bytes */
    text = envelope(&a, a.id, m, strlen(m));
    CHECK(env_decode(text, &e, &r) == GF_OK);
    CHECK(gf_trust_check(&t, &e, &r) == GF_OK && r == GF_REJECT_NONE);
    CHECK(gf_manifest_decode(e.bytes, e.len, &man, &r, NULL) == GF_OK);
    gf_manifest_free(&man);
    e.bytes[5] ^= 0x01; /* flipped byte in the signed bytes */
    CHECK(gf_trust_check(&t, &e, &r) == GF_ERR_CRYPTO && r == GF_REJECT_SIGNATURE);
    gf_free(e.bytes);
    gf_free(text);

    /* the same flip carried in an envelope (re-encoded with the original signature) */
    {
        unsigned char sig[GF_SIG_LEN];
        char *out = NULL;
        size_t n;
        memcpy(flipped, m, sizeof(m));
        gf_sign_detached(a.sk, m, strlen(m), sig);
        flipped[strlen(m) - 3] = '1'; /* health_timeout_s 60 -> 61 */
        CHECK(gf_envelope_encode(flipped, strlen(flipped), a.id, sig, &out, &n) == GF_OK);
        CHECK(gf_envelope_decode(out, n, &e, &r, NULL) == GF_OK);
        CHECK(gf_trust_check(&t, &e, &r) == GF_ERR_CRYPTO && r == GF_REJECT_SIGNATURE);
        gf_free(e.bytes);
        gf_free(out);
    }

    /* unknown key: signed and named by b, which the root does not list */
    text = envelope(&b, b.id, m, strlen(m));
    CHECK(env_decode(text, &e, &r) == GF_OK);
    CHECK(gf_trust_check(&t, &e, &r) == GF_ERR_CRYPTO && r == GF_REJECT_UNKNOWN_KEY);
    gf_free(e.bytes);
    gf_free(text);

    /* trusted key id, foreign signature */
    text = envelope(&c, a.id, m, strlen(m));
    CHECK(env_decode(text, &e, &r) == GF_OK);
    CHECK(gf_trust_check(&t, &e, &r) == GF_ERR_CRYPTO && r == GF_REJECT_SIGNATURE);
    gf_free(e.bytes);
    gf_free(text);
}

static void expect_trust(int line, const char *text, enum gf_err want, enum gf_reject why)
{
    struct gf_trust t;
    struct gf_diag d;
    enum gf_reject r = GF_REJECT__COUNT;
    enum gf_err err = gf_trust_decode(text, strlen(text), &t, &r, &d);

    if (err != want || r != why) {
        gf_test_fail++;
        fprintf(stderr, "%s:%d: got %s/%s (%s %s), want %s/%s\n", __FILE__, line, gf_err_str(err),
                gf_reject_str(r), d.where, d.msg, gf_err_str(want), gf_reject_str(why));
    } else {
        gf_test_pass++;
    }
}

static void test_statement(void)
{
    struct key a, b;
    const struct key *kab[] = {&a, &b}, *kaa[] = {&a, &a};
    struct gf_trust t, t2;
    char *out = NULL, *out2 = NULL, buf[2048], pk[65];
    size_t len, len2;
    enum gf_reject r;
    static const char want[] =
        "{\"schema\":1,\"type\":\"gatefleet.trust\",\"project\":\"" PROJECT
        "\",\"seq\":7,\"created_at\":\"2026-11-23T08:00:07Z\",\"keys\":[{\"key_id\":\"";

    key_new(&a);
    key_new(&b);
    trust_one(&t, PROJECT, 7, kab, 2);
    t.created_us += 999999; /* encode rounds down to the second */
    CHECK(gf_trust_encode(&t, &out, &len) == GF_OK);
    CHECK(strncmp(out, want, strlen(want)) == 0);
    CHECK(gf_trust_decode(out, len, &t2, &r, NULL) == GF_OK && r == GF_REJECT_NONE);
    CHECK(t2.seq == 7 && t2.nkeys == 2 && t2.created_us == T0 + 7000000);
    CHECK(memcmp(t2.keys[1].pk, b.pk, 32) == 0 && strcmp(t2.keys[1].key_id, b.id) == 0);
    CHECK(gf_trust_encode(&t2, &out2, &len2) == GF_OK && len2 == len &&
          memcmp(out, out2, len) == 0);
    gf_free(out2);

#define TEDIT(from, to)                                                                            \
    do {                                                                                           \
        const char *p_ = strstr(out, (from));                                                      \
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p_ - out), out, (to), p_ + strlen(from));     \
    } while (0)
    TEDIT("\"schema\":1", "\"schema\":2");
    expect_trust(__LINE__, buf, GF_ERR_INVAL, GF_REJECT_SCHEMA);
    TEDIT("gatefleet.trust", "gatefleet.bundle");
    expect_trust(__LINE__, buf, GF_ERR_INVAL, GF_REJECT_SCHEMA);
    TEDIT("\"seq\":7", "\"seq\":0");
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    TEDIT("\"seq\":7", "\"seq\":7,\"note\":\"x\"");
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    TEDIT("\"seq\":7", "\"seq\":7,\"seq\":8");
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    TEDIT(a.id, b.id); /* key_id does not match its public key (and duplicates b) */
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    TEDIT("08:00:07Z", "08:00:07.000Z");
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    gf_hex_encode(pk, sizeof(pk), a.pk, 32);
    TEDIT(pk, "00");
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    snprintf(buf, sizeof(buf),
             "{\"schema\":1,\"type\":\"gatefleet.trust\",\"project\":\"" PROJECT "\",\"seq\":1,"
             "\"created_at\":\"2026-11-23T08:00:00Z\",\"keys\":[]}");
    expect_trust(__LINE__, buf, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    gf_free(out);

    /* duplicate keys and a nine-key set: refused by encode, and by decode */
    trust_one(&t, PROJECT, 1, kaa, 2);
    CHECK(gf_trust_encode(&t, &out, &len) == GF_ERR_INVAL);
    trust_one(&t, PROJECT, 1, kab, 1);
    CHECK(gf_trust_encode(&t, &out, &len) == GF_OK);
    {
        char one[200], many[4096];
        const char *k0 = strstr(out, "{\"key_id\"");
        size_t off = 0;
        snprintf(one, sizeof(one), "%.*s", (int)(strlen(k0) - 2), k0);
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%.*s", (int)(k0 - out), out);
        for (int i = 0; i < 2; i++) {
            off += (size_t)snprintf(many + off, sizeof(many) - off, "%s%s", i ? "," : "", one);
        }
        snprintf(many + off, sizeof(many) - off, "]}");
        expect_trust(__LINE__, many, GF_ERR_PARSE, GF_REJECT_MALFORMED);
        off = (size_t)(k0 - out);
        for (int i = 0; i < 9; i++) {
            struct key k;
            char hex[65];
            key_new(&k);
            gf_hex_encode(hex, sizeof(hex), k.pk, 32);
            off += (size_t)snprintf(many + off, sizeof(many) - off,
                                    "%s{\"key_id\":\"%s\",\"public_key\":\"%s\"}", i ? "," : "",
                                    k.id, hex);
        }
        snprintf(many + off, sizeof(many) - off, "]}");
        expect_trust(__LINE__, many, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    }
    gf_free(out);
    t.seq = 0;
    CHECK(gf_trust_encode(&t, &out, &len) == GF_ERR_INVAL);
    t.seq = 1;
    t.keys[0].key_id[0] ^= 1;
    CHECK(gf_trust_encode(&t, &out, &len) == GF_ERR_INVAL);
}

/* Envelope of statement t signed by signer. Caller frees e->bytes. */
static void statement(const struct gf_trust *t, const struct key *signer, struct gf_envelope *e)
{
    char *bytes = NULL, *text;
    size_t len = 0;

    CHECK(gf_trust_encode(t, &bytes, &len) == GF_OK);
    text = envelope(signer, signer->id, bytes, len);
    CHECK(env_decode(text, e, NULL) == GF_OK);
    gf_free(text);
    gf_free(bytes);
}

static void expect_advance(int line, struct gf_trust *cur, const struct gf_envelope *e,
                           enum gf_err want, enum gf_reject why)
{
    struct gf_trust before = *cur;
    enum gf_reject r = GF_REJECT__COUNT;
    struct gf_diag d;
    enum gf_err err = gf_trust_advance(cur, e, &r, &d);
    int unchanged = before.seq == cur->seq && before.nkeys == cur->nkeys &&
                    before.created_us == cur->created_us &&
                    strcmp(before.project, cur->project) == 0 &&
                    memcmp(before.keys, cur->keys, sizeof(before.keys)) == 0;

    if (err != want || r != why || (want != GF_OK && !unchanged)) {
        gf_test_fail++;
        fprintf(stderr, "%s:%d: advance got %s/%s (%s), want %s/%s\n", __FILE__, line,
                gf_err_str(err), gf_reject_str(r), d.msg, gf_err_str(want), gf_reject_str(why));
    } else {
        gf_test_pass++;
    }
}

static void test_advance(void)
{
    struct key a, b, c;
    const struct key *ka[] = {&a}, *kb[] = {&b}, *kc[] = {&c};
    struct gf_trust cur, next;
    struct gf_envelope e;

    key_new(&a);
    key_new(&b);
    key_new(&c);
    trust_one(&cur, PROJECT, 1, ka, 1);

    /* seq 2 signed by the old key a rotates to b */
    trust_one(&next, PROJECT, 2, kb, 1);
    statement(&next, &c, &e); /* wrong signer: c is not in statement 1 */
    expect_advance(__LINE__, &cur, &e, GF_ERR_CRYPTO, GF_REJECT_TRUST);
    gf_free(e.bytes);
    statement(&next, &a, &e);
    memcpy(e.key_id, a.id, sizeof(e.key_id));
    e.sig[0] ^= 1; /* key a named, signature broken */
    expect_advance(__LINE__, &cur, &e, GF_ERR_CRYPTO, GF_REJECT_SIGNATURE);
    e.sig[0] ^= 1;
    expect_advance(__LINE__, &cur, &e, GF_OK, GF_REJECT_NONE);
    CHECK(cur.seq == 2 && cur.nkeys == 1 && strcmp(cur.keys[0].key_id, b.id) == 0);
    expect_advance(__LINE__, &cur, &e, GF_ERR_INVAL, GF_REJECT_TRUST); /* replay of seq 2 */
    gf_free(e.bytes);

    /* the retired key a can no longer sign statement 3 */
    trust_one(&next, PROJECT, 3, kc, 1);
    statement(&next, &a, &e);
    expect_advance(__LINE__, &cur, &e, GF_ERR_CRYPTO, GF_REJECT_TRUST);
    gf_free(e.bytes);

    /* skipped seq */
    trust_one(&next, PROJECT, 4, kc, 1);
    statement(&next, &b, &e);
    expect_advance(__LINE__, &cur, &e, GF_ERR_INVAL, GF_REJECT_TRUST);
    gf_free(e.bytes);

    /* another project's statement, signed by a trusted key */
    trust_one(&next, OTHER, 3, kc, 1);
    statement(&next, &b, &e);
    expect_advance(__LINE__, &cur, &e, GF_ERR_INVAL, GF_REJECT_PROJECT);
    gf_free(e.bytes);

    /* not a statement at all */
    e.bytes = gf_strdup("{\"schema\":1}");
    e.len = strlen(e.bytes);
    expect_advance(__LINE__, &cur, &e, GF_ERR_PARSE, GF_REJECT_MALFORMED);
    gf_free(e.bytes);

    /* b signs statement 3 */
    trust_one(&next, PROJECT, 3, kc, 1);
    statement(&next, &b, &e);
    expect_advance(__LINE__, &cur, &e, GF_OK, GF_REJECT_NONE);
    CHECK(cur.seq == 3 && strcmp(cur.keys[0].key_id, c.id) == 0);
    gf_free(e.bytes);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    test_keys();
    test_envelope();
    test_check();
    test_statement();
    test_advance();
    return gf_test_summary("test_sign");
}
