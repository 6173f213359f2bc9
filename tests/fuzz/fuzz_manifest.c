/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_manifest.c - fuzz target for the untrusted bytes of a bundle: the input is decoded as
 * an envelope, a manifest and a trust statement; an envelope's signed bytes go through
 * gf_trust_check and gf_trust_advance against a fixed trust root (key from a fixed seed,
 * FUZZ_SEED below, so seed inputs can carry valid signatures) and are decoded as a manifest
 * and a statement again. Beyond "no crash, no leak", it checks the codec properties: what
 * decodes re-encodes, and the encoding decodes to the same value and re-encodes to the same
 * bytes. Built with libFuzzer under clang and with replay.c under gcc.
 */
#include "fuzz.h"

#include "alloc.h"
#include "manifest.h"
#include "sign.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SEED "gatefleet fuzz trust root seed!!" /* 32 bytes */
#define FUZZ_PROJECT "123e4567-e89b-12d3-a456-426614174000"

static struct gf_trust root;
static int ready;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_manifest: property violated: %s\n", what);
    abort();
}

static void setup(void)
{
    unsigned char pk[GF_PUBKEY_LEN], sk[GF_SECKEY_LEN];

    if (sodium_init() < 0) {
        fail("sodium_init");
    }
    crypto_sign_seed_keypair(pk, sk, (const unsigned char *)FUZZ_SEED);
    sodium_memzero(sk, sizeof(sk));
    memset(&root, 0, sizeof(root));
    snprintf(root.project, sizeof(root.project), "%s", FUZZ_PROJECT);
    root.seq = 1;
    root.created_us = INT64_C(1795420800) * 1000000;
    memcpy(root.keys[0].pk, pk, sizeof(pk));
    gf_key_id(pk, root.keys[0].key_id, sizeof(root.keys[0].key_id));
    root.nkeys = 1;
    ready = 1;
}

static int manifest_same(const struct gf_manifest *a, const struct gf_manifest *b)
{
    if (a->schema != b->schema || strcmp(a->project, b->project) != 0 ||
        strcmp(a->node, b->node) != 0 || strcmp(a->name, b->name) != 0 ||
        a->version != b->version || a->created_us != b->created_us ||
        a->expires_us != b->expires_us || strcmp(a->target_selector, b->target_selector) != 0 ||
        a->narch != b->narch || a->nfiles != b->nfiles || a->nactions != b->nactions ||
        strcmp(a->health_check, b->health_check) != 0 ||
        a->health_timeout_s != b->health_timeout_s || a->total_size != b->total_size) {
        return 0;
    }
    for (size_t i = 0; i < a->narch; i++) {
        if (strcmp(a->target_arch[i], b->target_arch[i]) != 0) {
            return 0;
        }
    }
    for (size_t i = 0; i < a->nactions; i++) {
        if (strcmp(a->actions[i], b->actions[i]) != 0) {
            return 0;
        }
    }
    for (size_t i = 0; i < a->nfiles; i++) {
        const struct gf_manifest_file *x = &a->files[i], *y = &b->files[i];
        if (strcmp(x->path, y->path) != 0 || strcmp(x->sha256, y->sha256) != 0 ||
            x->size != y->size || x->mode != y->mode) {
            return 0;
        }
    }
    return 1;
}

static void manifest_case(const char *data, size_t len)
{
    struct gf_manifest m, m2;
    char *out = NULL, *out2 = NULL;
    size_t n = 0, n2 = 0;
    enum gf_reject r;
    enum gf_err err;

    err = gf_manifest_decode(data, len, &m, &r, NULL);
    if ((err == GF_OK) != (r == GF_REJECT_NONE)) {
        fail("manifest decode: error and reason disagree");
    }
    if (err == GF_OK) {
        err = gf_manifest_encode(&m, &out, &n);
        /* "644" -> "0644" is the only growth; a near-cap input may not fit once canonical */
        if (err == GF_ERR_TOOBIG && len > GF_MANIFEST_MAX_BYTES - GF_MANIFEST_MAX_FILES) {
            goto out;
        }
        if (err != GF_OK) {
            fail("manifest: decoded but does not encode");
        }
        if (gf_manifest_decode(out, n, &m2, &r, NULL) != GF_OK || !manifest_same(&m, &m2)) {
            fail("manifest: encoding does not decode to the same value");
        }
        if (gf_manifest_encode(&m2, &out2, &n2) != GF_OK || n2 != n || memcmp(out, out2, n) != 0) {
            fail("manifest: encoding is not canonical");
        }
        gf_manifest_free(&m2);
    }
out:
    gf_free(out);
    gf_free(out2);
    gf_manifest_free(&m);
}

static void trust_case(const char *data, size_t len)
{
    struct gf_trust t, t2;
    char *out = NULL;
    size_t n = 0;
    enum gf_reject r;

    if (gf_trust_decode(data, len, &t, &r, NULL) != GF_OK) {
        return;
    }
    if (gf_trust_encode(&t, &out, &n) != GF_OK || gf_trust_decode(out, n, &t2, &r, NULL) != GF_OK ||
        t2.seq != t.seq || t2.created_us != t.created_us || t2.nkeys != t.nkeys ||
        strcmp(t2.project, t.project) != 0 || memcmp(t2.keys, t.keys, sizeof(t.keys)) != 0) {
        fail("trust statement does not round-trip");
    }
    gf_free(out);
}

static void envelope_case(const char *data, size_t len)
{
    struct gf_envelope e, e2;
    struct gf_trust cur = root;
    char *out = NULL;
    size_t n = 0;
    enum gf_reject r;

    if (gf_envelope_decode(data, len, &e, &r, NULL) != GF_OK) {
        if (e.bytes != NULL || r != GF_REJECT_MALFORMED) {
            fail("envelope decode: failure left bytes or a wrong reason");
        }
        return;
    }
    if (gf_envelope_encode(e.bytes, e.len, e.key_id, e.sig, &out, &n) != GF_OK ||
        gf_envelope_decode(out, n, &e2, &r, NULL) != GF_OK || e2.len != e.len ||
        memcmp(e2.bytes, e.bytes, e.len) != 0 || strcmp(e2.key_id, e.key_id) != 0 ||
        memcmp(e2.sig, e.sig, sizeof(e.sig)) != 0) {
        fail("envelope does not round-trip");
    }
    gf_free(e2.bytes);
    gf_free(out);
    gf_trust_check(&root, &e, &r);
    manifest_case(e.bytes, e.len);
    trust_case(e.bytes, e.len);
    if (gf_trust_advance(&cur, &e, &r, NULL) == GF_OK && cur.seq != root.seq + 1) {
        fail("trust advanced to a seq other than the next");
    }
    gf_free(e.bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    if (!ready) {
        setup();
    }
    manifest_case(text, size);
    trust_case(text, size);
    envelope_case(text, size);
    return 0;
}
