/* SPDX-License-Identifier: Apache-2.0
 *
 * test_manifest.c - the bundle manifest codec: a canonical manifest decodes and re-encodes to
 * the same bytes, and every refusal (schema, members, names, timestamps, paths, duplicates
 * and prefix directories, modes, size caps, actions) comes with its reason and JSON pointer.
 * Ends with an allocation-failure pass over decode and encode.
 */
#include "alloc.h"
#include "gf_test.h"
#include "ids.h"
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UUID "123e4567-e89b-12d3-a456-426614174000"
#define NODE "00000000-0000-4000-8000-000000000001"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define HEAD                                                                                       \
    "{\"schema\":1,\"type\":\"gatefleet.bundle\",\"project\":\"" UUID "\",\"name\":\"nx\","        \
    "\"version\":1,\"created_at\":\"2026-11-23T08:00:00Z\","                                       \
    "\"expires_at\":\"2027-11-23T08:00:00Z\""
#define FILE1(p) "{\"path\":\"" p "\",\"sha256\":\"" SHA "\",\"size\":1,\"mode\":\"0644\"}"

static const char full[] =
    "{\"schema\":1,\"type\":\"gatefleet.bundle\",\"project\":\"" UUID "\",\"name\":\"neuronex\","
    "\"version\":3,\"created_at\":\"2026-11-23T08:00:00Z\",\"expires_at\":\"2027-11-23T08:00:00Z\","
    "\"node\":\"" NODE
    "\",\"target\":{\"selector\":\"site=gate\",\"arch\":[\"x86_64\",\"aarch64\"]},"
    "\"files\":[{\"path\":\"etc/neuron.conf\",\"sha256\":\"" SHA
    "\",\"size\":123,\"mode\":\"0644\"},"
    "{\"path\":\"bin/run \\\"x\\\"\",\"sha256\":\"" SHA "\",\"size\":0,\"mode\":\"0755\"}],"
    "\"actions\":[\"restart:neuronex\",\"reload\"],\"health_check\":\"check:neuronex\","
    "\"health_timeout_s\":60}";

/* Decode text; check the error, the reason and (when where != NULL) the JSON pointer. */
static void expect(int line, const char *text, enum gf_err want, enum gf_reject why,
                   const char *where)
{
    struct gf_manifest m;
    struct gf_diag d;
    enum gf_reject r = GF_REJECT__COUNT;
    enum gf_err err = gf_manifest_decode(text, strlen(text), &m, &r, &d);

    if (err != want || r != why || (where != NULL && strcmp(d.where, where) != 0)) {
        gf_test_fail++;
        fprintf(stderr, "%s:%d: got %s/%s at \"%s\" (%s), want %s/%s at \"%s\"\n", __FILE__, line,
                gf_err_str(err), gf_reject_str(r), d.where, d.msg, gf_err_str(want),
                gf_reject_str(why), where ? where : "*");
    } else {
        gf_test_pass++;
    }
    gf_manifest_free(&m);
}

#define OK(t) expect(__LINE__, (t), GF_OK, GF_REJECT_NONE, NULL)
#define BAD(t, why, where)                                                                         \
    expect(__LINE__, (t), (why) == GF_REJECT_MALFORMED ? GF_ERR_PARSE : GF_ERR_INVAL, (why),       \
           (where))

/* Manifest with the given files array body and tail members. */
static const char *with(const char *files, const char *tail)
{
    static char buf[80000];

    snprintf(buf, sizeof(buf), HEAD ",\"files\":[%s],\"actions\":[]%s,\"health_timeout_s\":60}",
             files, tail);
    return buf;
}

static const char *file_at(const char *path)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"path\":\"%s\",\"sha256\":\"" SHA "\",\"size\":1,\"mode\":\"0644\"}", path);
    return with(buf, "");
}

static const char *file_with(const char *sha, const char *size, const char *mode)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf), "{\"path\":\"a\",\"sha256\":%s,\"size\":%s,\"mode\":%s}", sha, size,
             mode);
    return with(buf, "");
}

/* Replace the first occurrence of from in full by to. */
static const char *edit(const char *from, const char *to)
{
    static char buf[8192];
    const char *p = strstr(full, from);
    size_t pre = (size_t)(p - full);

    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)pre, full, to, p + strlen(from));
    return buf;
}

static void test_round_trip(void)
{
    struct gf_manifest m, m2;
    char *out = NULL, h[65];
    size_t len = 0;
    enum gf_reject r;

    CHECK(gf_manifest_decode(full, strlen(full), &m, &r, NULL) == GF_OK && r == GF_REJECT_NONE);
    CHECK_STR(m.project, UUID);
    CHECK_STR(m.node, NODE);
    CHECK_STR(m.name, "neuronex");
    CHECK(m.version == 3 && m.schema == 1 && m.health_timeout_s == 60);
    CHECK(m.created_us == INT64_C(1795420800) * 1000000);
    CHECK(m.expires_us - m.created_us == INT64_C(365) * 86400 * 1000000);
    CHECK_STR(m.target_selector, "site=gate");
    CHECK(m.narch == 2 && strcmp(m.target_arch[1], "aarch64") == 0);
    CHECK(m.nfiles == 2 && m.total_size == 123 && m.files[0].mode == 0644);
    CHECK_STR(m.files[1].path, "bin/run \"x\"");
    CHECK(m.nactions == 2 && strcmp(m.actions[0], "restart:neuronex") == 0);
    CHECK_STR(m.health_check, "check:neuronex");
    gf_sha256_hex(h, sizeof(h), full, strlen(full));
    CHECK_STR(m.sha256, h);
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_OK);
    CHECK(out != NULL && len == strlen(full) && memcmp(out, full, len) == 0);
    CHECK(gf_manifest_decode(out, len, &m2, NULL, NULL) == GF_OK && strcmp(m2.sha256, h) == 0);
    gf_free(out);
    gf_manifest_free(&m2);

    /* rules apply to encode too */
    m.files[1].mode = 04755;
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_ERR_INVAL);
    m.files[1].mode = 0755;
    snprintf(m.files[1].path, sizeof(m.files[1].path), "../x");
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_ERR_INVAL);
    snprintf(m.files[1].path, sizeof(m.files[1].path), "x");
    m.created_us += 1; /* not whole seconds: would not round-trip */
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_ERR_INVAL);
    m.created_us -= 1;
    m.schema = 2;
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_ERR_INVAL);
    m.schema = 1;
    memset(m.name, 'a', sizeof(m.name)); /* not NUL-terminated */
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_ERR_INVAL);
    gf_manifest_free(&m);

    /* minimal: no node, target, health_check; empty files and actions; short mode */
    OK(with("", ""));
    CHECK(gf_manifest_decode(file_with("\"" SHA "\"", "5", "\"755\""), 0, &m, &r, NULL) ==
          GF_ERR_PARSE); /* zero bytes are not a manifest */
    const char *t = file_with("\"" SHA "\"", "5", "\"755\"");
    CHECK(gf_manifest_decode(t, strlen(t), &m, &r, NULL) == GF_OK && m.files[0].mode == 0755);
    CHECK(gf_manifest_encode(&m, &out, &len) == GF_OK && strstr(out, "\"mode\":\"0755\"") &&
          strstr(out, "node") == NULL && strstr(out, "target") == NULL);
    gf_free(out);
    gf_manifest_free(&m);
}

static void test_document(void)
{
    char big[GF_MANIFEST_MAX_BYTES + 2];
    struct gf_manifest m;
    enum gf_reject r;

    BAD(edit("\"schema\":1", "\"schema\":2"), GF_REJECT_SCHEMA, "/schema");
    BAD(edit("gatefleet.bundle", "gatefleet.trust"), GF_REJECT_SCHEMA, "/type");
    BAD(edit("\"schema\":1", "\"schema\":2,\"future\":true"), GF_REJECT_SCHEMA, "/schema");
    BAD(edit("\"schema\":1", "\"schema\":\"1\""), GF_REJECT_MALFORMED, "/schema");
    BAD(edit("\"schema\":1,", ""), GF_REJECT_MALFORMED, "/schema");
    BAD(edit("\"version\":3", "\"version\":3,\"version\":4"), GF_REJECT_MALFORMED, "");
    BAD(edit("\"version\":3", "\"version\":3,\"extra\":1"), GF_REJECT_MALFORMED, "/extra");
    BAD(edit("\"mode\":\"0644\"", "\"mode\":\"0644\",\"owner\":\"root\""), GF_REJECT_MALFORMED,
        "/files/0/owner");
    BAD(edit("\"arch\"", "\"os\":\"linux\",\"arch\""), GF_REJECT_MALFORMED, "/target/os");
    BAD(edit("\"version\":3", "\"version\":0"), GF_REJECT_MALFORMED, "/version");
    BAD(edit("\"version\":3", "\"version\":3.0"), GF_REJECT_MALFORMED, "/version");
    BAD(edit("\"version\":3", "\"version\":-1"), GF_REJECT_MALFORMED, "/version");
    BAD(edit("\"version\":3", "\"version\":null"), GF_REJECT_MALFORMED, "/version");
    BAD(edit(",\"health_timeout_s\":60", ""), GF_REJECT_MALFORMED, "/health_timeout_s");
    BAD(edit("\"health_timeout_s\":60", "\"health_timeout_s\":0"), GF_REJECT_MALFORMED,
        "/health_timeout_s");
    BAD(edit("\"health_timeout_s\":60", "\"health_timeout_s\":3601"), GF_REJECT_MALFORMED,
        "/health_timeout_s");
    OK(edit("\"health_timeout_s\":60", "\"health_timeout_s\":3600"));
    BAD(edit("123e4567", "123E4567"), GF_REJECT_MALFORMED, "/project");
    BAD(edit(NODE, "node-1"), GF_REJECT_MALFORMED, "/node");
    BAD(edit("\"neuronex\"", "\"Neuronex\""), GF_REJECT_MALFORMED, "/name");
    BAD(edit("\"neuronex\"", "\"-x\""), GF_REJECT_MALFORMED, "/name");
    BAD(edit("\"neuronex\"", "\"\""), GF_REJECT_MALFORMED, "/name");
    OK(edit("\"neuronex\"", "\"a23456789.123456789_123456789-123456789012345678901234567890123\""));
    BAD(edit("\"neuronex\"",
             "\"a234567890123456789012345678901234567890123456789012345678901234\""),
        GF_REJECT_MALFORMED, "/name");
    BAD(edit("2027-11-23T08:00:00Z", "2026-11-23T08:00:00Z"), GF_REJECT_MALFORMED, "/expires_at");
    BAD(edit("2027-11-23T08:00:00Z", "2026-11-22T08:00:00Z"), GF_REJECT_MALFORMED, "/expires_at");
    BAD(edit("2026-11-23T08:00:00Z", "2026-11-23T08:00:00.5Z"), GF_REJECT_MALFORMED, "/created_at");
    BAD(edit("2026-11-23T08:00:00Z", "2026-11-23T09:00:00+01:00"), GF_REJECT_MALFORMED,
        "/created_at");
    BAD(edit("2026-11-23T08:00:00Z", "2026-11-23t08:00:00z"), GF_REJECT_MALFORMED, "/created_at");
    BAD(edit("2026-11-23T08:00:00Z", "2026-02-29T08:00:00Z"), GF_REJECT_MALFORMED, "/created_at");
    BAD(edit("2026-11-23T08:00:00Z", "2026-11-23T23:59:60Z"), GF_REJECT_MALFORMED, "/created_at");
    BAD(edit("\"target\":{", "\"target\":{\"selector\":1,"), GF_REJECT_MALFORMED, "");
    BAD(edit("\"x86_64\",", "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\","),
        GF_REJECT_MALFORMED, "/target/arch");
    BAD(edit("\"x86_64\"", "\"\""), GF_REJECT_MALFORMED, "/target/arch/0");
    BAD(edit("\"x86_64\"", "7"), GF_REJECT_MALFORMED, "/target/arch/0");
    BAD(edit("{\"selector\":\"site=gate\",\"arch\":[\"x86_64\",\"aarch64\"]}", "[]"),
        GF_REJECT_MALFORMED, "/target");
    BAD("", GF_REJECT_MALFORMED, "");
    BAD("[]", GF_REJECT_MALFORMED, "");
    BAD("{} {}", GF_REJECT_MALFORMED, "");
    BAD("{\"schema\":1,", GF_REJECT_MALFORMED, "");
    BAD(edit("neuronex", "neur\xC3\x28nex"), GF_REJECT_MALFORMED, "");
    BAD(edit("\"neuronex\"", "\"neu\\u0000ronex\""), GF_REJECT_MALFORMED, "");

    /* selector cap */
    {
        char sel[1100], *t;
        memset(sel, 'a', 1025);
        sel[1025] = '\0';
        t = malloc(strlen(full) + 1200);
        snprintf(t, strlen(full) + 1200, "%s", edit("site=gate", sel));
        BAD(t, GF_REJECT_MALFORMED, "/target/selector");
        sel[1024] = '\0';
        snprintf(t, strlen(full) + 1200, "%s", edit("site=gate", sel));
        OK(t);
        free(t);
    }

    /* byte cap */
    memset(big, ' ', sizeof(big));
    memcpy(big, full, strlen(full));
    CHECK(gf_manifest_decode(big, GF_MANIFEST_MAX_BYTES, &m, &r, NULL) == GF_OK);
    gf_manifest_free(&m);
    CHECK(gf_manifest_decode(big, GF_MANIFEST_MAX_BYTES + 1, &m, &r, NULL) == GF_ERR_TOOBIG &&
          r == GF_REJECT_SIZE && m.files == NULL);
}

static void test_actions(void)
{
    BAD(edit("\"reload\"", "\"Reload\""), GF_REJECT_ACTION, "/actions/1");
    BAD(edit("\"reload\"", "\"re load\""), GF_REJECT_ACTION, "/actions/1");
    BAD(edit("\"reload\"", "\":reload\""), GF_REJECT_ACTION, "/actions/1");
    BAD(edit("\"reload\"", "\"\""), GF_REJECT_ACTION, "/actions/1");
    BAD(edit("\"reload\"", "5"), GF_REJECT_MALFORMED, "/actions/1");
    BAD(edit("\"check:neuronex\"", "\"check neuronex\""), GF_REJECT_ACTION, "/health_check");
    BAD(edit("\"check:neuronex\"", "\"\""), GF_REJECT_ACTION, "/health_check");
    BAD(edit("\"reload\"", "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\","
                           "\"l\",\"m\",\"n\",\"o\",\"p\""),
        GF_REJECT_SIZE, "/actions");
    OK(edit("\"reload\"", "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\","
                          "\"l\",\"m\",\"n\",\"o\""));
    CHECK(gf_manifest_action_ok("restart:neuronex") && gf_manifest_action_ok("a.b_c-d:e"));
    CHECK(!gf_manifest_action_ok("restart/neuronex") && !gf_manifest_action_ok(NULL));
    CHECK(gf_manifest_name_ok("neuronex") && !gf_manifest_name_ok("neuron:ex"));
}

static void test_paths(void)
{
    static const char *const bad[] = {
        "../x",
        "/etc/x",
        "a/../b",
        "a//b",
        "./a",
        "a\\\\b",
        "a\\u0001b",
        "a/",
        "",
        "a/.",
        "..",
        ".",
        "a\\u007fb",
        "a\\u0085b",
        "a\\tb",
        "a/b/..",
        "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
    };
    static const char *const good[] = {
        "link -> /etc/shadow",
        "a/..b",
        "...",
        ".hidden/x",
        "caf\\u00e9",
        "a b/c\\\"d",
        "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
        "etc/neuron.conf",
    };
    char longp[300];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        BAD(file_at(bad[i]), GF_REJECT_PATH, "/files/0/path");
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        OK(file_at(good[i]));
    }
    memset(longp, 'a', 256);
    longp[256] = '\0';
    BAD(file_at(longp), GF_REJECT_PATH, "/files/0/path");
    longp[255] = '\0';
    OK(file_at(longp));
    BAD(file_at("a\\u0000b"), GF_REJECT_MALFORMED, "");

    BAD(with(FILE1("a/b") "," FILE1("c") "," FILE1("a/b"), ""), GF_REJECT_PATH, "/files/2/path");
    BAD(with(FILE1("a") "," FILE1("a/b"), ""), GF_REJECT_PATH, "/files/1/path");
    BAD(with(FILE1("x/y/z") "," FILE1("x/y"), ""), GF_REJECT_PATH, "/files/1/path");
    OK(with(FILE1("a") "," FILE1("ab") "," FILE1("a-x/b") "," FILE1("b/a"), ""));

    CHECK(gf_manifest_path_ok("a/b") && !gf_manifest_path_ok(NULL));
    CHECK(!gf_manifest_path_ok("a\xC3\x28"));
}

static void test_files(void)
{
    static char many[600 * 120];
    size_t off = 0;

    OK(file_with("\"" SHA "\"", "16777216", "\"0600\""));
    BAD(file_with("\"" SHA "\"", "16777217", "\"0644\""), GF_REJECT_SIZE, "/files/0/size");
    BAD(file_with("\"" SHA "\"", "-1", "\"0644\""), GF_REJECT_MALFORMED, "/files/0/size");
    BAD(file_with("\"" SHA "\"", "\"1\"", "\"0644\""), GF_REJECT_MALFORMED, "/files/0/size");
    BAD(file_with("\"" SHA "\"", "99999999999999999999", "\"0644\""), GF_REJECT_MALFORMED, "");
    BAD(file_with("\"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\"", "1",
                  "\"0644\""),
        GF_REJECT_MALFORMED, "/files/0/sha256");
    BAD(file_with("\"9f86\"", "1", "\"0644\""), GF_REJECT_MALFORMED, "/files/0/sha256");
    BAD(file_with("\"" SHA "\"", "1", "\"04755\""), GF_REJECT_MALFORMED, "/files/0/mode");
    BAD(file_with("\"" SHA "\"", "1", "\"4755\""), GF_REJECT_MALFORMED, "/files/0/mode");
    BAD(file_with("\"" SHA "\"", "1", "\"1777\""), GF_REJECT_MALFORMED, "/files/0/mode");
    BAD(file_with("\"" SHA "\"", "1", "\"0800\""), GF_REJECT_MALFORMED, "/files/0/mode");
    BAD(file_with("\"" SHA "\"", "1", "\"64\""), GF_REJECT_MALFORMED, "/files/0/mode");
    BAD(file_with("\"" SHA "\"", "1", "420"), GF_REJECT_MALFORMED, "/files/0/mode");
    BAD(with("\"a\"", ""), GF_REJECT_MALFORMED, "/files/0");
    BAD(with("{\"path\":\"a\",\"size\":1,\"mode\":\"0644\"}", ""), GF_REJECT_MALFORMED,
        "/files/0/sha256");

    /* total cap: four full files fit, the fifth does not */
    off = 0;
    for (int i = 0; i < 5; i++) {
        off += (size_t)snprintf(many + off, sizeof(many) - off,
                                "%s{\"path\":\"f%d\",\"sha256\":\"" SHA "\",\"size\":16777216,"
                                "\"mode\":\"0644\"}",
                                i ? "," : "", i);
    }
    BAD(with(many, ""), GF_REJECT_SIZE, "/files/4/size");

    /* file count cap */
    off = 0;
    for (int i = 0; i < 513; i++) {
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%s" FILE1("f%d"), i ? "," : "", i);
    }
    BAD(with(many, ""), GF_REJECT_SIZE, "/files");
}

/* Every allocation of decode and encode may fail: GF_ERR_NOMEM, no leak, no crash. */
static void test_alloc_failures(void)
{
    struct gf_manifest m;
    char *out = NULL;
    size_t len;
    enum gf_err err = GF_ERR_NOMEM;
    long n;

    for (n = 0; n < 100 && err == GF_ERR_NOMEM; n++) {
        gf_alloc_fail_after(n);
        err = gf_manifest_decode(full, strlen(full), &m, NULL, NULL);
        gf_alloc_fail_after(-1);
        if (err == GF_OK) {
            for (long k = 0; k < 100; k++) {
                gf_alloc_fail_after(k);
                enum gf_err e2 = gf_manifest_encode(&m, &out, &len);
                gf_alloc_fail_after(-1);
                CHECK(e2 == GF_OK || e2 == GF_ERR_NOMEM);
                if (e2 == GF_OK) {
                    gf_free(out);
                    break;
                }
            }
        }
        gf_manifest_free(&m);
    }
    CHECK(err == GF_OK && n > 1);
}

int main(void)
{
    CHECK(gf_ids_init() == GF_OK);
    CHECK_STR(gf_reject_str(GF_REJECT_SIGNATURE), "signature");
    CHECK_STR(gf_reject_str(GF_REJECT_UNKNOWN_KEY), "unknown_key");
    CHECK_STR(gf_reject_str(GF_REJECT__COUNT), "unknown");
    for (int r = 0; r < GF_REJECT__COUNT; r++) {
        CHECK(strcmp(gf_reject_str((enum gf_reject)r), "unknown") != 0);
    }
    test_round_trip();
    test_document();
    test_actions();
    test_paths();
    test_files();
    test_alloc_failures();
    return gf_test_summary("test_manifest");
}
