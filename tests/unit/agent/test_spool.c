/* SPDX-License-Identifier: Apache-2.0
 *
 * test_spool.c - the agent's telemetry spool through spool.h: bad options are refused by
 * field; append/read/ack round trip and the on-disk record format (checked with an
 * independent bit-by-bit CRC32C); ids keep growing across reopen, also when every segment is
 * gone; acknowledgements survive reopen; a torn, garbage-tailed or bit-flipped newest segment
 * is cut and counted and appends go on; a corrupt older segment costs only its own rest;
 * drop-oldest counts exactly the unacknowledged records it deletes; read limits; oversized
 * records; and every allocation failure of open/append/read ends in GF_ERR_NOMEM cleanly.
 */
#include "alloc.h"
#include "gf_test.h"
#include "spool.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG 4096u
#define REC 1004u /* payload that makes a 1024-byte record: four fill a segment */

static char root[] = "/tmp/gf_spool_XXXXXX";

/* ---- helpers ---- */

static void subdir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", root, name);
}

static struct gf_spool_opts opts_for(const char *dir)
{
    struct gf_spool_opts o = {dir, 64u * SEG, SEG, SEG, GF_SPOOL_SYNC_NONE};
    return o;
}

static struct gf_spool *open_ok(const struct gf_spool_opts *o)
{
    struct gf_spool *sp = NULL;
    struct gf_diag d;
    enum gf_err err = gf_spool_open(o, &sp, &d);

    CHECK(err == GF_OK);
    if (err != GF_OK) {
        fprintf(stderr, "open %s: %s (%s: %s)\n", o->dir, gf_err_str(err), d.where, d.msg);
    }
    return sp;
}

static void fill(unsigned char *p, uint64_t id, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (unsigned char)(id * 131u + i * 7u);
    }
}

/* Append n records of len bytes with the pattern of their id; returns the last id. */
static uint64_t append_n(struct gf_spool *sp, int n, size_t len)
{
    static unsigned char p[SEG];
    struct gf_spool_stats st;
    uint64_t id = 0;

    for (int i = 0; i < n; i++) {
        gf_spool_stats(sp, &st);
        fill(p, st.next_id, len);
        CHECK(gf_spool_append(sp, p, len, &id) == GF_OK && id == st.next_id);
    }
    return id;
}

struct got {
    uint64_t ids[64];
    size_t n;
    int bad;        /* a payload did not match its id's pattern */
    size_t stop_at; /* visitor returns 1 after this many, 0: never */
};

static int collect(void *ud, uint64_t id, const void *data, size_t len)
{
    static unsigned char want[SEG];
    struct got *g = ud;

    fill(want, id, len);
    if (len > SEG || memcmp(want, data, len) != 0) {
        g->bad = 1;
    }
    if (g->n < 64) {
        g->ids[g->n] = id;
    }
    g->n++;
    return g->stop_at != 0 && g->n >= g->stop_at;
}

static size_t read_all(struct gf_spool *sp, uint64_t after, struct got *g)
{
    size_t n = 99;

    memset(g, 0, sizeof(*g));
    CHECK(gf_spool_read(sp, after, SIZE_MAX, SIZE_MAX, collect, g, &n) == GF_OK);
    CHECK(n == g->n && !g->bad);
    return n;
}

/* Ids visited are exactly from..to. */
static int ids_are(const struct got *g, uint64_t from, uint64_t to)
{
    if (g->n != to - from + 1) {
        return 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        if (g->ids[i] != from + i) {
            return 0;
        }
    }
    return 1;
}

/* Path of the k-th segment file (oldest first) in dir; 0 if there is none. */
static int seg_path(const char *dir, int k, char *out, size_t cap)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), found = 0;

    for (int i = 0; i < n; i++) {
        if (strncmp(list[i]->d_name, "seg-", 4) == 0 && k-- == 0) {
            snprintf(out, cap, "%s/%s", dir, list[i]->d_name);
            found = 1;
        }
        free(list[i]);
    }
    free(list);
    return found;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    int c;

    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    fseek(f, off, SEEK_SET);
    c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

static uint32_t ref_crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n-- > 0) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1u) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
    }
    return ~crc;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* ---- tests ---- */

static void test_options(void)
{
    char dir[256];
    struct gf_spool *sp = NULL;
    struct gf_diag d;
    struct gf_spool_opts o;

    subdir(dir, sizeof(dir), "opts");
    o = opts_for(dir);
    o.segment_bytes = 4000;
    CHECK(gf_spool_open(&o, &sp, &d) == GF_ERR_CONFIG && sp == NULL);
    CHECK_STR(d.where, "segment_bytes");
    o = opts_for(dir);
    o.max_bytes = 4u * SEG - 1;
    CHECK(gf_spool_open(&o, &sp, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "max_bytes");
    o = opts_for(dir);
    o.max_record = SEG + 1;
    CHECK(gf_spool_open(&o, &sp, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "max_record");
    o = opts_for(dir);
    o.max_bytes = (uint64_t)SEG * 1000000u; /* a million segments: index too big */
    CHECK(gf_spool_open(&o, &sp, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "segment_bytes");
    o = opts_for(NULL);
    CHECK(gf_spool_open(&o, &sp, &d) == GF_ERR_CONFIG && sp == NULL);
    CHECK(access(dir, F_OK) != 0); /* nothing created on refusal */
}

static void test_round_trip(void)
{
    char dir[256], path[512];
    unsigned char p[SEG + 1], raw[64];
    struct gf_spool_opts o;
    struct gf_spool_stats st;
    struct gf_spool *sp;
    struct got g;
    uint64_t id = 0;
    struct stat sb;

    subdir(dir, sizeof(dir), "rt/nested");
    o = opts_for(dir);
    o.sync = GF_SPOOL_SYNC_ALWAYS;
    sp = open_ok(&o);
    if (sp == NULL) {
        return;
    }
    CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    gf_spool_stats(sp, &st);
    CHECK(st.next_id == 1 && st.records == 0 && st.segments == 0 && st.first_id == 0);
    CHECK(read_all(sp, 0, &g) == 0);

    fill(p, 1, 10);
    CHECK(gf_spool_append(sp, p, 10, &id) == GF_OK && id == 1);
    CHECK(gf_spool_append(sp, NULL, 0, &id) == GF_OK && id == 2);
    fill(p, 3, 100);
    CHECK(gf_spool_append(sp, p, 100, NULL) == GF_OK);
    CHECK(read_all(sp, 0, &g) == 3 && ids_are(&g, 1, 3));
    gf_spool_stats(sp, &st);
    CHECK(st.records == 3 && st.first_id == 1 && st.next_id == 4 && st.segments == 1);
    CHECK(seg_path(dir, 0, path, sizeof(path)) && file_size(path) == 3 * 20 + 110);
    CHECK(st.bytes == 170);

    /* The on-disk record, checked against spool.h's format with an independent CRC32C. */
    CHECK(ref_crc32c(0, (const unsigned char *)"123456789", 9) == 0xE3069283u);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL && fread(raw, 1, 30, f) == 30);
    if (f != NULL) {
        fclose(f);
    }
    CHECK(strstr(path, "/seg-0000000000000001.log") != NULL);
    CHECK(le(raw, 4) == 0x31505347u && le(raw + 4, 4) == 10 && le(raw + 8, 8) == 1);
    CHECK(le(raw + 16, 4) == ref_crc32c(ref_crc32c(0, raw + 8, 8), raw + 20, 10));
    fill(p, 1, 10);
    CHECK(memcmp(raw + 20, p, 10) == 0);

    /* Ack: acknowledged records are not visited again; lower acks are no-ops. */
    CHECK(gf_spool_ack(sp, 2) == GF_OK);
    CHECK(read_all(sp, 0, &g) == 1 && ids_are(&g, 3, 3));
    CHECK(read_all(sp, 3, &g) == 0);
    CHECK(gf_spool_ack(sp, 1) == GF_OK);
    gf_spool_stats(sp, &st);
    CHECK(st.acked_id == 2 && st.records == 1 && st.first_id == 3);
    CHECK(gf_spool_ack(sp, UINT64_MAX) == GF_OK); /* clamped to next_id - 1 */
    gf_spool_stats(sp, &st);
    CHECK(st.acked_id == 3 && st.records == 0 && st.first_id == 0 && st.next_id == 4);
    CHECK(append_n(sp, 1, 50) == 4);
    CHECK(read_all(sp, 0, &g) == 1 && ids_are(&g, 4, 4));

    /* Oversized records are refused and use no id. */
    CHECK(gf_spool_append(sp, p, SEG + 1, &id) == GF_ERR_TOOBIG && id == 2);
    fill(p, 5, SEG);
    CHECK(gf_spool_append(sp, p, SEG, &id) == GF_OK && id == 5);
    CHECK(read_all(sp, 4, &g) == 1 && ids_are(&g, 5, 5));
    gf_spool_close(sp);
    gf_spool_close(NULL);
}

static void test_reopen(void)
{
    char dir[256], path[512];
    struct gf_spool_opts o;
    struct gf_spool_stats st;
    struct gf_spool *sp;
    struct got g;

    subdir(dir, sizeof(dir), "reopen");
    o = opts_for(dir);
    sp = open_ok(&o);
    CHECK(append_n(sp, 5, 100) == 5);
    CHECK(gf_spool_ack(sp, 3) == GF_OK);
    gf_spool_close(sp);

    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.next_id == 6 && st.acked_id == 3 && st.records == 2 && st.corrupt == 0);
    CHECK(read_all(sp, 0, &g) == 2 && ids_are(&g, 4, 5));
    CHECK(append_n(sp, 1, 100) == 6);
    CHECK(gf_spool_ack(sp, 6) == GF_OK);
    gf_spool_close(sp);

    /* Every segment gone: the ack file is the floor of the next id. */
    while (seg_path(dir, 0, path, sizeof(path))) {
        CHECK(unlink(path) == 0);
    }
    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.next_id == 7 && st.segments == 0 && st.bytes == 0 && st.acked_id == 6);
    CHECK(read_all(sp, 0, &g) == 0);

    /* Fill a segment exactly and ack it: the full segment is deleted, ids still grow. */
    CHECK(append_n(sp, 4, REC) == 10);
    CHECK(gf_spool_ack(sp, 10) == GF_OK);
    gf_spool_stats(sp, &st);
    CHECK(st.segments == 0 && st.bytes == 0 && !seg_path(dir, 0, path, sizeof(path)));
    gf_spool_close(sp);
    sp = open_ok(&o);
    CHECK(append_n(sp, 1, 10) == 11);
    CHECK(read_all(sp, 0, &g) == 1 && ids_are(&g, 11, 11));
    gf_spool_close(sp);
}

/* Six 100-byte records in one segment, damaged by how, then reopened. */
static void torn_case(const char *name, int how)
{
    char dir[256], path[512], junk[512];
    struct gf_spool_opts o;
    struct gf_spool_stats st;
    struct gf_spool *sp;
    struct got g;
    uint64_t good = how == 1 ? 6 : 5; /* garbage after the last record loses nothing */

    subdir(dir, sizeof(dir), name);
    o = opts_for(dir);
    sp = open_ok(&o);
    append_n(sp, 6, 100);
    gf_spool_close(sp);
    CHECK(seg_path(dir, 0, path, sizeof(path)) && file_size(path) == 720);
    if (how == 0) {
        CHECK(truncate(path, 720 - 50) == 0); /* mid-payload of record 6 */
    } else if (how == 1) {
        FILE *f = fopen(path, "ab");
        fputs("\x47\x53\x50\x31garbage after a power cut", f);
        fclose(f);
        snprintf(junk, sizeof(junk), "%s/seg-zz.log", dir);
        fclose(fopen(junk, "w"));
    } else {
        flip_byte(path, 720 - 10); /* inside record 6's payload */
    }
    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.corrupt == 1 && st.records == good && st.next_id == good + 1);
    CHECK(file_size(path) == (long)good * 120 && (long)st.bytes == (long)good * 120);
    CHECK(read_all(sp, 0, &g) == good && ids_are(&g, 1, good));
    CHECK(append_n(sp, 2, 100) == good + 2);
    CHECK(read_all(sp, 0, &g) == good + 2 && ids_are(&g, 1, good + 2));
    gf_spool_close(sp);
    if (how == 1) {
        CHECK(access(junk, F_OK) == 0); /* not ours: left alone */
    }
    sp = open_ok(&o); /* the cut is durable: nothing corrupt any more */
    gf_spool_stats(sp, &st);
    CHECK(st.corrupt == 0 && st.records == good + 2);
    gf_spool_close(sp);
}

static void test_older_corrupt(void)
{
    char dir[256], path[512];
    struct gf_spool_opts o;
    struct gf_spool_stats st;
    struct gf_spool *sp;
    struct got g;

    subdir(dir, sizeof(dir), "older");
    o = opts_for(dir);
    sp = open_ok(&o);
    CHECK(append_n(sp, 12, REC) == 12); /* segments 1-4, 5-8, 9-12 */
    gf_spool_close(sp);
    CHECK(seg_path(dir, 0, path, sizeof(path)));
    flip_byte(path, 1024 + 20 + 5); /* record 2's payload */
    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.corrupt == 1 && st.segments == 3 && st.records == 9 && st.next_id == 13);
    CHECK(file_size(path) == SEG); /* an older segment is not cut */
    memset(&g, 0, sizeof(g));
    CHECK(read_all(sp, 0, &g) == 9 && g.ids[0] == 1 && g.ids[1] == 5 && g.ids[8] == 12);
    CHECK(append_n(sp, 1, 10) == 13);
    CHECK(read_all(sp, 12, &g) == 1 && ids_are(&g, 13, 13));
    CHECK(gf_spool_ack(sp, 1) == GF_OK);
    gf_spool_stats(sp, &st);
    CHECK(st.segments == 3 && st.records == 9); /* segment 1 (rest corrupt) is deleted */
    gf_spool_close(sp);

    /* Older segment corrupt and the newest one unreadable from its first record (cut to
     * nothing): ids still never go back below the newest segment's name. */
    subdir(dir, sizeof(dir), "older2");
    o = opts_for(dir);
    sp = open_ok(&o);
    CHECK(append_n(sp, 8, REC) == 8); /* segments 1-4, 5-8 */
    gf_spool_close(sp);
    CHECK(seg_path(dir, 0, path, sizeof(path)));
    flip_byte(path, 1024 + 20 + 5);
    CHECK(seg_path(dir, 1, path, sizeof(path)));
    flip_byte(path, 20 + 5);
    o.segment_bytes = 2 * SEG; /* segment 1 is no longer full */
    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.corrupt == 2 && st.segments == 1 && st.records == 1 && st.next_id >= 5);
    CHECK(access(path, F_OK) != 0);
    CHECK(append_n(sp, 2, 10) == st.next_id + 1);
    CHECK(read_all(sp, 0, &g) == 3 && g.ids[0] == 1 && g.ids[1] == st.next_id);
    gf_spool_close(sp);
    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.corrupt == 1 && st.records == 3); /* only the old segment's rest, again */
    gf_spool_close(sp);
}

static void test_drop_oldest(void)
{
    char dir[256];
    struct gf_spool_opts o;
    struct gf_spool_stats st;
    struct gf_spool *sp;
    struct got g;

    subdir(dir, sizeof(dir), "drop");
    o = opts_for(dir);
    o.max_bytes = 4u * SEG;
    sp = open_ok(&o);
    CHECK(append_n(sp, 16, REC) == 16);
    gf_spool_stats(sp, &st);
    CHECK(st.bytes == 4u * SEG && st.dropped == 0 && st.segments == 4);
    CHECK(append_n(sp, 4, REC) == 20); /* 17 opens segment 5: segment 1 (1-4) goes */
    gf_spool_stats(sp, &st);
    CHECK(st.dropped == 4 && st.records == 16 && st.first_id == 5 && st.bytes <= o.max_bytes);
    CHECK(read_all(sp, 0, &g) == 16 && ids_are(&g, 5, 20));
    CHECK(gf_spool_ack(sp, 6) == GF_OK);
    CHECK(append_n(sp, 4, REC) == 24); /* segment 2 (5-8) goes: 7 and 8 were unacked */
    gf_spool_stats(sp, &st);
    CHECK(st.dropped == 6 && st.records == 16 && st.first_id == 9 && st.segments == 4);
    CHECK(read_all(sp, 0, &g) == 16 && ids_are(&g, 9, 24));
    gf_spool_close(sp);
}

static void test_read_limits(void)
{
    char dir[256];
    struct gf_spool_opts o;
    struct gf_spool *sp;
    struct got g;
    size_t n = 0;

    subdir(dir, sizeof(dir), "limits");
    o = opts_for(dir);
    sp = open_ok(&o);
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 0, 5, 500, collect, &g, &n) == GF_OK && n == 0);
    append_n(sp, 10, 100);
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 0, 3, SIZE_MAX, collect, &g, &n) == GF_OK && n == 3);
    CHECK(ids_are(&g, 1, 3));
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 0, 100, 250, collect, &g, &n) == GF_OK && n == 2);
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 0, 100, 300, collect, &g, &n) == GF_OK && n == 3);
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 4, 100, 10, collect, &g, &n) == GF_OK && n == 1); /* at least one */
    CHECK(ids_are(&g, 5, 5));
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 0, 0, SIZE_MAX, collect, &g, &n) == GF_OK && n == 1);
    memset(&g, 0, sizeof(g));
    CHECK(gf_spool_read(sp, 8, 5, SIZE_MAX, collect, &g, &n) == GF_OK && ids_are(&g, 9, 10));
    memset(&g, 0, sizeof(g));
    g.stop_at = 2;
    CHECK(gf_spool_read(sp, 0, 100, SIZE_MAX, collect, &g, &n) == GF_OK && n == 2);
    CHECK(!g.bad);
    gf_spool_close(sp);
}

/* Fail the nth allocation for n = 0, 1, ... until a run needs fewer than n. */
static void test_alloc_failures(void)
{
    char dir[256];
    struct gf_spool_opts o;
    struct gf_spool_stats st;
    struct gf_spool *sp;
    struct got g;
    int ok = 0, nomem = 0;

    subdir(dir, sizeof(dir), "alloc");
    o = opts_for(dir);
    sp = open_ok(&o);
    append_n(sp, 10, REC);
    CHECK(gf_spool_ack(sp, 2) == GF_OK);
    gf_spool_close(sp);
    for (long n = 0; n < 1000; n++) {
        struct gf_diag d;
        enum gf_err err;
        long used;

        sp = NULL;
        gf_alloc_fail_after(n);
        err = gf_spool_open(&o, &sp, &d);
        if (err == GF_OK) {
            err = gf_spool_append(sp, "x", 1, NULL);
            memset(&g, 0, sizeof(g));
            if (err == GF_OK) {
                err = gf_spool_read(sp, 0, SIZE_MAX, SIZE_MAX, collect, &g, NULL);
            }
            gf_spool_close(sp);
        } else {
            CHECK(sp == NULL);
        }
        used = gf_alloc_fail_after(-1);
        CHECK(err == GF_OK || err == GF_ERR_NOMEM);
        if (err == GF_OK) {
            ok++;
        } else {
            nomem++;
        }
        if (used < n) {
            break;
        }
    }
    CHECK(ok >= 1 && nomem >= 1);
    sp = open_ok(&o);
    gf_spool_stats(sp, &st);
    CHECK(st.corrupt == 0 && st.records == 8 + (uint64_t)ok && st.next_id == 11 + (uint64_t)ok);
    gf_spool_close(sp);
    printf("allocation failures: %d runs failed cleanly, %d succeeded\n", nomem, ok);
}

int main(void)
{
    char cmd[128];

    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_options();
    test_round_trip();
    test_reopen();
    torn_case("torn", 0);
    torn_case("garbage", 1);
    torn_case("flip", 2);
    test_older_corrupt();
    test_drop_oldest();
    test_read_limits();
    test_alloc_failures();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    return gf_test_summary("test_spool");
}
