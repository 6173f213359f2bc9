/* SPDX-License-Identifier: Apache-2.0
 *
 * test_collectors.c - the health collectors over fixture /proc and /sys trees: a normal x86
 * box (exact values computed from the fixture numbers), rates between two samples (the
 * normal_next files copied over a temp copy of the normal tree), a box on UPS battery, an
 * empty tree (everything absent, no crash), malformed files (values skipped), and every
 * allocation failure (GF_ERR_NOMEM or success, never a crash or a leak: ASan checks).
 */
#include "alloc.h"
#include "collectors/collector.h"
#include "gf_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FIX GF_FIXTURES

struct tree {
    char proc[512], sys[512], mnt[512];
    struct gf_collect_roots roots;
};

static void tree_at(struct tree *t, const char *dir)
{
    snprintf(t->proc, sizeof(t->proc), "%s/proc", dir);
    snprintf(t->sys, sizeof(t->sys), "%s/sys", dir);
    snprintf(t->mnt, sizeof(t->mnt), "%s/mnt", dir);
    t->roots.procfs = t->proc;
    t->roots.sysfs = t->sys;
    t->roots.mounts_root = t->mnt;
}

/* One sample of every collector over roots; NULL on error. Caller owns (json_decref). */
static json_t *collect(void **states, const struct gf_collect_roots *roots)
{
    json_t *s = json_object();

    if (s != NULL && gf_collect_all(states, roots, s) != GF_OK) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static json_t *at(json_t *root, const char *path)
{
    json_t *v = root;
    char key[64];
    const char *p = path;

    while (v != NULL && *p != '\0') {
        size_t n = 0;
        while (*p != '\0' && *p != '/' && n + 1 < sizeof(key)) {
            key[n++] = *p++;
        }
        key[n] = '\0';
        p += *p == '/' ? 1 : 0;
        if (json_is_array(v)) {
            v = json_array_get(v, strtoul(key, NULL, 10));
        } else {
            v = json_object_get(v, key);
        }
    }
    return v;
}

static long long ival(json_t *root, const char *path)
{
    json_t *v = at(root, path);

    return json_is_integer(v) ? (long long)json_integer_value(v) : -999;
}

static double rval(json_t *root, const char *path)
{
    json_t *v = at(root, path);

    return json_is_real(v) ? json_real_value(v) : -999.0;
}

static const char *sval(json_t *root, const char *path)
{
    return json_string_value(at(root, path));
}

#define CHECK_REAL(v, want) CHECK((v) > (want)-1e-9 && (v) < (want) + 1e-9)

static void check_normal_first(json_t *s, const char *mnt)
{
    struct statvfs st;
    char path[600];

    CHECK(ival(s, "cpu/cores") == 4);
    CHECK(at(s, "cpu/usage_pct") == NULL); /* first sample: no rate yet */
    CHECK_REAL(rval(s, "cpu/load1"), 0.52);
    CHECK_REAL(rval(s, "cpu/load15"), 0.59);
    CHECK(ival(s, "memory/total_bytes") == 8000000LL * 1024);
    CHECK(ival(s, "memory/available_bytes") == 5000000LL * 1024);
    CHECK_REAL(rval(s, "memory/used_pct"), 37.5);
    CHECK_REAL(rval(s, "memory/swap_used_pct"), 25.0);
    CHECK(ival(s, "memory/swap_free_bytes") == 1500000LL * 1024);
    /* mounts: / ext4, /data xfs ro, "/mnt/usb stick" vfat (dir missing); proc, tmpfs, overlay
     * skipped */
    CHECK(json_array_size(at(s, "disk/mounts")) == 3);
    CHECK_STR(sval(s, "disk/mounts/0/mount"), "/");
    CHECK_STR(sval(s, "disk/mounts/0/device"), "/dev/sda2");
    CHECK(json_is_false(at(s, "disk/mounts/0/read_only")));
    snprintf(path, sizeof(path), "%s/", mnt);
    CHECK(statvfs(path, &st) == 0);
    CHECK(ival(s, "disk/mounts/0/total_bytes") ==
          (long long)(st.f_blocks * (st.f_frsize ? st.f_frsize : st.f_bsize)));
    CHECK(ival(s, "disk/mounts/0/free_bytes") > 0);
    CHECK(rval(s, "disk/mounts/0/used_pct") >= 0.0 && rval(s, "disk/mounts/0/used_pct") <= 100.0);
    CHECK_STR(sval(s, "disk/mounts/1/fs"), "xfs");
    CHECK(json_is_true(at(s, "disk/mounts/1/read_only")));
    CHECK(ival(s, "disk/mounts/1/total_bytes") > 0);
    CHECK_STR(sval(s, "disk/mounts/2/mount"), "/mnt/usb stick");
    CHECK(at(s, "disk/mounts/2/total_bytes") == NULL);
    CHECK(json_is_true(at(s, "power/mains_online")));
    CHECK(at(s, "power/on_battery") == NULL);
    CHECK(json_array_size(at(s, "power/supplies")) == 1);
    CHECK(json_is_true(at(s, "power/supplies/0/online")));
    CHECK(json_is_true(at(s, "link/default_route")));
    CHECK_STR(sval(s, "link/default_iface"), "eth0");
    CHECK(json_array_size(at(s, "link/interfaces")) == 2); /* lo skipped */
    CHECK_STR(sval(s, "link/interfaces/0/name"), "eth0");
    CHECK_STR(sval(s, "link/interfaces/0/operstate"), "up");
    CHECK(json_is_true(at(s, "link/interfaces/0/carrier")));
    CHECK(ival(s, "link/interfaces/0/speed_mbps") == 1000);
    CHECK(ival(s, "link/interfaces/0/rx_bytes") == 1000000);
    CHECK(ival(s, "link/interfaces/0/rx_errors") == 3);
    CHECK(at(s, "link/interfaces/0/rx_bytes_delta") == NULL);
    CHECK_STR(sval(s, "link/interfaces/1/operstate"), "down");
    CHECK(at(s, "link/interfaces/1/carrier") == NULL);
    CHECK(at(s, "link/interfaces/1/speed_mbps") == NULL);
    CHECK(json_array_size(at(s, "thermal/zones")) == 2);
    CHECK_STR(sval(s, "thermal/zones/0/type"), "x86_pkg_temp");
    CHECK_REAL(rval(s, "thermal/zones/0/temp_c"), 45.5);
    CHECK_REAL(rval(s, "thermal/zones/1/temp_c"), 27.8);
    CHECK_REAL(rval(s, "uptime/uptime_s"), 1000.0);
    CHECK(ival(s, "self/rss_bytes") == 3072 * 1024);
    CHECK_REAL(rval(s, "self/cpu_seconds"), 200.0 / (double)sysconf(_SC_CLK_TCK));
    CHECK(at(s, "self/cpu_pct") == NULL);
}

static void check_normal_next(json_t *s)
{
    double hz = (double)sysconf(_SC_CLK_TCK);

    /* total 1000 -> 1800, idle 800 -> 1400: 200 busy of 800 */
    CHECK_REAL(rval(s, "cpu/usage_pct"), 25.0);
    CHECK(ival(s, "link/interfaces/0/rx_bytes_delta") == 500000);
    CHECK(ival(s, "link/interfaces/0/tx_bytes_delta") == 100000);
    CHECK(ival(s, "link/interfaces/0/rx_errors_delta") == 2);
    CHECK(ival(s, "link/interfaces/0/tx_errors_delta") == 0);
    CHECK(ival(s, "link/interfaces/1/rx_bytes") == 5);
    CHECK(at(s, "link/interfaces/1/rx_bytes_delta") == NULL); /* went backwards */
    /* 20 ticks over 10 s of uptime */
    CHECK_REAL(rval(s, "self/cpu_pct"), round(20.0 / hz * 1000.0) / 100.0);
}

static void test_normal_and_rates(void)
{
    char dir[] = "/tmp/gf_coll_test_XXXXXX", cmd[1024];
    void *states[GF_COLL_MAX_COLLECTORS];
    struct tree t;
    json_t *s;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd), "cp -R %s/normal/. %s/", FIX, dir);
    CHECK(system(cmd) == 0);
    tree_at(&t, dir);
    CHECK(gf_collect_init_all(states) == GF_OK);
    s = collect(states, &t.roots);
    CHECK(s != NULL && json_object_size(s) == gf_ncollectors);
    check_normal_first(s, t.mnt);
    json_decref(s);
    snprintf(cmd, sizeof(cmd), "cp -R %s/normal_next/. %s/", FIX, dir);
    CHECK(system(cmd) == 0);
    s = collect(states, &t.roots);
    CHECK(s != NULL);
    check_normal_next(s);
    json_decref(s);
    gf_collect_free_all(states);
    CHECK(states[0] == NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void test_ups(void)
{
    void *states[GF_COLL_MAX_COLLECTORS];
    struct tree t;
    json_t *s;

    tree_at(&t, FIX "/ups");
    CHECK(gf_collect_init_all(states) == GF_OK);
    s = collect(states, &t.roots);
    CHECK(s != NULL);
    CHECK(json_is_false(at(s, "power/mains_online")));
    CHECK(json_is_true(at(s, "power/on_battery")));
    CHECK(json_array_size(at(s, "power/supplies")) == 3);
    CHECK_STR(sval(s, "power/supplies/0/name"), "AC");
    CHECK(json_is_false(at(s, "power/supplies/0/online")));
    CHECK_STR(sval(s, "power/supplies/1/name"), "BAT1");
    CHECK(ival(s, "power/supplies/1/capacity_pct") == 80);
    CHECK(ival(s, "power/supplies/1/time_left_s") == 7200); /* 20 Wh at 10 W */
    CHECK_STR(sval(s, "power/supplies/2/name"), "UPS0");
    CHECK_STR(sval(s, "power/supplies/2/type"), "UPS");
    CHECK(json_is_true(at(s, "power/supplies/2/present")));
    CHECK(ival(s, "power/supplies/2/capacity_pct") == 42);
    CHECK_STR(sval(s, "power/supplies/2/status"), "discharging");
    CHECK(ival(s, "power/supplies/2/time_left_s") == 1800);
    /* link down, and only a non-default route */
    CHECK(json_is_false(at(s, "link/default_route")));
    CHECK(at(s, "link/default_iface") == NULL);
    CHECK_STR(sval(s, "link/interfaces/0/operstate"), "down");
    CHECK(json_is_false(at(s, "link/interfaces/0/carrier")));
    CHECK(at(s, "cpu/cores") == NULL); /* no /proc/stat in this tree */
    json_decref(s);
    gf_collect_free_all(states);
}

static void test_empty(void)
{
    void *states[GF_COLL_MAX_COLLECTORS];
    struct tree t;
    json_t *s;
    size_t i;
    int round_;

    tree_at(&t, FIX "/empty");
    CHECK(gf_collect_init_all(states) == GF_OK);
    for (round_ = 0; round_ < 2; round_++) {
        s = collect(states, &t.roots);
        CHECK(s != NULL && json_object_size(s) == gf_ncollectors);
        CHECK(json_object_size(at(s, "cpu")) == 0);
        CHECK(json_object_size(at(s, "memory")) == 0);
        CHECK(json_object_size(at(s, "disk")) == 0);
        CHECK(json_object_size(at(s, "power")) == 1); /* "supplies": [] only */
        CHECK(json_array_size(at(s, "power/supplies")) == 0);
        CHECK(at(s, "power/mains_online") == NULL && at(s, "power/on_battery") == NULL);
        CHECK(json_object_size(at(s, "link")) == 1);
        CHECK(json_array_size(at(s, "link/interfaces")) == 0);
        CHECK(json_array_size(at(s, "thermal/zones")) == 0);
        CHECK(json_object_size(at(s, "uptime")) == 0);
        CHECK(json_object_size(at(s, "self")) == 0);
        json_decref(s);
    }
    gf_collect_free_all(states);
    /* a root that does not exist at all behaves the same */
    tree_at(&t, "/nonexistent-gatefleet-root");
    CHECK(gf_collect_init_all(states) == GF_OK);
    s = collect(states, &t.roots);
    CHECK(s != NULL);
    for (i = 0; i < gf_ncollectors; i++) {
        CHECK(json_is_object(at(s, gf_collectors[i].name)));
    }
    json_decref(s);
    gf_collect_free_all(states);
}

static void test_malformed(void)
{
    void *states[GF_COLL_MAX_COLLECTORS];
    struct tree t;
    json_t *s;

    tree_at(&t, FIX "/malformed");
    CHECK(gf_collect_init_all(states) == GF_OK);
    s = collect(states, &t.roots);
    CHECK(s != NULL);
    CHECK(ival(s, "cpu/cores") == 1); /* cpu0 counted, cpuX not */
    CHECK(at(s, "cpu/load1") == NULL);
    CHECK(at(s, "memory/total_bytes") == NULL);
    CHECK(at(s, "memory/available_bytes") == NULL);
    CHECK(at(s, "memory/swap_total_bytes") == NULL);   /* free > total */
    CHECK(json_array_size(at(s, "disk/mounts")) == 1); /* only the complete line */
    CHECK_STR(sval(s, "disk/mounts/0/mount"), "/x");
    CHECK(at(s, "disk/mounts/0/total_bytes") == NULL);
    CHECK(at(s, "uptime/uptime_s") == NULL);
    CHECK(at(s, "self/rss_bytes") == NULL);
    CHECK(at(s, "self/cpu_seconds") == NULL);
    CHECK(at(s, "power/mains_online") == NULL); /* online "2" */
    CHECK(json_is_false(at(s, "power/on_battery")));
    CHECK_STR(sval(s, "power/supplies/1/name"), "BAT0");
    CHECK(at(s, "power/supplies/1/present") == NULL);
    CHECK(at(s, "power/supplies/1/capacity_pct") == NULL);
    CHECK(at(s, "power/supplies/1/status") == NULL);
    CHECK(at(s, "power/supplies/1/time_left_s") == NULL);
    CHECK(json_is_false(at(s, "link/default_route")));
    CHECK(json_object_size(at(s, "link/interfaces/0")) == 1); /* name only */
    CHECK(json_object_size(at(s, "thermal/zones/0")) == 1);   /* zone only */
    json_decref(s);
    s = collect(states, &t.roots); /* second round: no rates from bad counters */
    CHECK(s != NULL && at(s, "cpu/usage_pct") == NULL && at(s, "self/cpu_pct") == NULL);
    json_decref(s);
    gf_collect_free_all(states);
}

/* Fail the nth allocation for n = 0, 1, ... until a run needs fewer than n. */
static void test_alloc_failures(void)
{
    void *states[GF_COLL_MAX_COLLECTORS];
    struct tree t;
    long n;
    int ok = 0, nomem = 0;

    tree_at(&t, FIX "/normal");
    for (n = 0; n < 10000; n++) {
        enum gf_err err;
        json_t *s1 = NULL, *s2 = NULL;
        long used;

        gf_alloc_fail_after(n);
        err = gf_collect_init_all(states);
        if (err == GF_OK) {
            s1 = collect(states, &t.roots);
            s2 = s1 != NULL ? collect(states, &t.roots) : NULL;
            gf_collect_free_all(states);
        }
        used = gf_alloc_fail_after(-1);
        CHECK(err == GF_OK || err == GF_ERR_NOMEM);
        if (err == GF_OK && s2 != NULL) {
            ok++;
        } else {
            nomem++;
        }
        json_decref(s1);
        json_decref(s2);
        if (used < n) {
            break;
        }
    }
    CHECK(ok >= 1 && nomem >= 1);
    printf("allocation failures: %d runs failed cleanly, %d succeeded\n", nomem, ok);
}

int main(void)
{
    test_normal_and_rates();
    test_ups();
    test_empty();
    test_malformed();
    test_alloc_failures();
    return gf_test_summary("test_collectors");
}
