/* SPDX-License-Identifier: Apache-2.0
 *
 * test_apply.c - the bundle apply engine through apply.h, with manifests built by hand, blobs
 * named by their SHA-256 and actions that are small /bin/sh scripts appending to a log.
 * Covers: v1 then v2 then v3 (current, installed.json, hwm, floor, file contents and modes,
 * progress steps, pruning to current + previous, re-apply is "already_installed"); a failing
 * action rolls back to v1, reruns v1's actions, records failed_sha256 and refuses the same
 * manifest again; a hanging action is killed with its process group (action_timeout); a health
 * check failing until the timeout (health_timeout) and one passing on its third try; an
 * unknown action fails before staging; a first apply that fails removes current; disk full
 * while staging (ENOSPC on a tiny tmpfs when mount is allowed, and always EFBIG from
 * RLIMIT_FSIZE in a forked child) leaves v1, no staging dir and no failed_sha256; planted symlinks
 * are removed, never followed; a journal left behind blocks gf_apply. Crash recovery for every
 * fault point (a forked child exits 99 there, the parent recovers and checks the configuration is
 * exactly v1 or v2 and agrees with installed.json), a crash whose resumed health check fails, an
 * interrupted rollback, too many attempts, and a truncated or garbage journal.
 */
#include "actions.h"
#include "alloc.h"
#include "apply.h"
#include "buf.h"
#include "file.h"
#include "gf_test.h"
#include "ids.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[] = "/tmp/gf_apply_XXXXXX";
static char blobs[512], logpath[512];
static struct gf_actions *actions;
static int nbundles;

/* A manifest built by hand with its files (never freed by the code under test). */
struct tb {
    struct gf_manifest m;
    struct gf_manifest_file f[4];
};

/* ---- helpers ---- */

static void join(char *out, size_t cap, const char *a, const char *b)
{
    if (snprintf(out, cap, "%s/%s", a, b) >= (int)cap) {
        fprintf(stderr, "path too long: %s/%s\n", a, b);
        out[0] = '\0';
    }
}

static void write_text(const char *path, const char *text)
{
    CHECK(gf_file_write_atomic(path, text, strlen(text), 0644) == GF_OK);
}

/* Contents of path into out ("" when unreadable). */
static void read_text(const char *path, char *out, size_t cap)
{
    struct gf_buf b;

    gf_buf_init(&b, cap - 1);
    out[0] = '\0';
    if (gf_file_read(path, &b) == GF_OK && b.data != NULL) {
        memcpy(out, b.data, b.len + 1);
    }
    gf_buf_free(&b);
}

static int exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Store content as a blob; its sha256 into sha. */
static void put_blob(const char *content, size_t n, char sha[65])
{
    char p[600];

    gf_sha256_hex(sha, 65, content, n);
    join(p, sizeof(p), blobs, sha);
    CHECK(gf_file_write_atomic(p, content, n, 0644) == GF_OK);
}

static void add_file(struct tb *t, const char *path, const char *content, unsigned mode)
{
    struct gf_manifest_file *f = &t->f[t->m.nfiles++];

    snprintf(f->path, sizeof(f->path), "%s", path);
    put_blob(content, strlen(content), f->sha256);
    f->size = strlen(content);
    f->mode = mode;
}

static void add_action(struct tb *t, const char *name)
{
    snprintf(t->m.actions[t->m.nactions++], sizeof(t->m.actions[0]), "%s", name);
}

/* Bundle "neuronex" version v: etc/neuron.conf, bin/run.sh (0755), a/b/c/deep.txt (0600);
 * action "restart:v<v>" when it exists in the map; tag makes a different manifest sha. */
static void make(struct tb *t, uint64_t v, const char *tag)
{
    char text[128], restart[32];

    memset(t, 0, sizeof(*t));
    t->m.schema = 1;
    snprintf(t->m.name, sizeof(t->m.name), "neuronex");
    t->m.version = v;
    t->m.created_us = 1700000000000000LL + (int64_t)v;
    t->m.files = t->f;
    t->m.health_timeout_s = 5;
    snprintf(text, sizeof(text), "conf v%llu %s\n", (unsigned long long)v, tag);
    add_file(t, "etc/neuron.conf", text, 0644);
    snprintf(text, sizeof(text), "#!/bin/sh\necho v%llu\n", (unsigned long long)v);
    add_file(t, "bin/run.sh", text, 0755);
    add_file(t, "a/b/c/deep.txt", "deep\n", 0600);
    snprintf(restart, sizeof(restart), "restart:v%llu", (unsigned long long)v);
    if (gf_actions_has(actions, restart)) {
        add_action(t, restart);
    }
    snprintf(text, sizeof(text), "manifest neuronex %llu %s", (unsigned long long)v, tag);
    gf_sha256_hex(t->m.sha256, sizeof(t->m.sha256), text, strlen(text));
}

static void dir_of(const struct tb *t, char *out, size_t cap)
{
    snprintf(out, cap, "versions/neuronex-%llu-%.8s", (unsigned long long)t->m.version,
             t->m.sha256);
}

static char progress_log[256];

static void on_progress(void *arg, const char *step)
{
    size_t n = strlen(progress_log);

    (void)arg;
    snprintf(progress_log + n, sizeof(progress_log) - n, "%s%s", n > 0 ? "," : "", step);
}

/* A fresh bundles dir for one scenario, an empty action log. */
static struct gf_apply_opts fresh(char *bundles, size_t cap)
{
    char name[32];
    struct gf_apply_opts o;

    snprintf(name, sizeof(name), "bundles%d", ++nbundles);
    join(bundles, cap, root, name);
    unlink(logpath);
    memset(&o, 0, sizeof(o));
    o.bundles_dir = bundles;
    o.blobs_dir = blobs;
    o.actions = actions;
    o.progress = on_progress;
    return o;
}

static enum gf_apply_result apply(const struct gf_apply_opts *o, const struct tb *t, char *reason,
                                  size_t cap)
{
    enum gf_apply_result res = GF_APPLY_NOTHING;
    enum gf_err err = gf_apply(o, &t->m, "11111111-2222-3333-4444-555555555555", &res, reason, cap);

    CHECK(err == GF_OK);
    if (err != GF_OK) {
        fprintf(stderr, "gf_apply: %s\n", gf_err_str(err));
    }
    return res;
}

static void apply_ok(const struct gf_apply_opts *o, const struct tb *t)
{
    char reason[32];

    CHECK(apply(o, t, reason, sizeof(reason)) == GF_APPLY_APPLIED);
    CHECK_STR(reason, "");
}

/* The configuration is exactly t (NULL: nothing installed): current, installed.json, the
 * files through current, no journal. */
static void expect_config(const char *bundles, const struct tb *t)
{
    char p[600], link[256], want[256], text[256];
    struct gf_installed in;
    struct stat st;
    ssize_t n;

    join(p, sizeof(p), bundles, "journal");
    CHECK(!exists(p));
    CHECK(gf_installed_load(bundles, &in) == GF_OK);
    join(p, sizeof(p), bundles, "current");
    if (t == NULL) {
        CHECK(!exists(p));
        CHECK_STR(in.sha256, "");
        CHECK_STR(in.dir, "");
        return;
    }
    dir_of(t, want, sizeof(want));
    n = readlink(p, link, sizeof(link) - 1);
    CHECK(n > 0);
    link[n > 0 ? n : 0] = '\0';
    CHECK_STR(link, want);
    CHECK_STR(in.dir, want);
    CHECK_STR(in.sha256, t->m.sha256);
    CHECK_STR(in.name, "neuronex");
    CHECK(in.version == t->m.version);
    snprintf(p, sizeof(p), "%s/current/etc/neuron.conf", bundles);
    read_text(p, text, sizeof(text));
    snprintf(want, sizeof(want), "conf v%llu", (unsigned long long)t->m.version);
    CHECK(strncmp(text, want, strlen(want)) == 0);
    snprintf(p, sizeof(p), "%s/current/bin/run.sh", bundles);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755 && S_ISREG(st.st_mode));
    snprintf(p, sizeof(p), "%s/current/a/b/c/deep.txt", bundles);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
    snprintf(p, sizeof(p), "%s/current/a/b", bundles);
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
}

/* Entries of bundles/versions, sorted, comma separated. */
static void list_versions(const char *bundles, char *out, size_t cap)
{
    char cmd[700];
    FILE *f;

    snprintf(cmd, sizeof(cmd), "ls '%s/versions' | tr '\\n' ,", bundles);
    out[0] = '\0';
    f = popen(cmd, "r");
    if (f != NULL) {
        size_t n = fread(out, 1, cap - 1, f);
        out[n] = '\0';
        pclose(f);
    }
}

static int count_lines_with(const char *word)
{
    char text[4096];
    int n = 0;

    read_text(logpath, text, sizeof(text));
    for (char *p = text; (p = strstr(p, word)) != NULL; p += strlen(word)) {
        n++;
    }
    return n;
}

/* ---- scenarios ---- */

static void test_v1_v2_v3(void)
{
    char bundles[512], reason[32], list[512], want[512], d1[128], d2[128], d3[128];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1, v2, v3;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    make(&v3, 3, "a");
    progress_log[0] = '\0';
    apply_ok(&o, &v1);
    CHECK_STR(progress_log, "applying,switching,actions,health");
    expect_config(bundles, &v1);
    apply_ok(&o, &v2);
    expect_config(bundles, &v2);
    CHECK(gf_installed_load(bundles, &in) == GF_OK);
    CHECK(gf_installed_hwm(&in, "neuronex") == 2 && gf_installed_hwm(&in, "other") == 0);
    CHECK(in.floor_us == v2.m.created_us);
    CHECK_STR(in.bundle_id, "11111111-2222-3333-4444-555555555555");
    CHECK_STR(in.failed_sha256, "");
    dir_of(&v1, d1, sizeof(d1));
    dir_of(&v2, d2, sizeof(d2));
    dir_of(&v3, d3, sizeof(d3));
    list_versions(bundles, list, sizeof(list));
    snprintf(want, sizeof(want), "%s,%s,", d1 + 9, d2 + 9);
    CHECK_STR(list, want);
    apply_ok(&o, &v3);
    expect_config(bundles, &v3);
    list_versions(bundles, list, sizeof(list)); /* v1 pruned: current and previous kept */
    snprintf(want, sizeof(want), "%s,%s,", d2 + 9, d3 + 9);
    CHECK_STR(list, want);
    CHECK(count_lines_with("v1 ") == 1 && count_lines_with("v2 ") == 1);
    CHECK(apply(&o, &v3, reason, sizeof(reason)) == GF_APPLY_APPLIED);
    CHECK_STR(reason, "already_installed");
    CHECK(count_lines_with("v3 ") == 1);
}

/* v1 applied; v2 with an extra action that fails -> rolled back. */
static void test_action_failed(void)
{
    char bundles[512], reason[32], line[700], p[600];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1, v2;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    add_action(&v2, "fail");
    apply_ok(&o, &v1);
    CHECK(apply(&o, &v2, reason, sizeof(reason)) == GF_APPLY_ROLLED_BACK);
    CHECK_STR(reason, "action_failed");
    expect_config(bundles, &v1);
    CHECK(gf_installed_load(bundles, &in) == GF_OK);
    CHECK_STR(in.failed_sha256, v2.m.sha256);
    CHECK(gf_installed_hwm(&in, "neuronex") == 1);
    /* v1's action ran again, on v1's tree */
    CHECK(count_lines_with("v1 ") == 2 && count_lines_with("v2 ") == 1);
    snprintf(line, sizeof(line), "v1 %s/versions/neuronex-1-%.8s\n", bundles, v1.m.sha256);
    CHECK(count_lines_with(line) == 2);
    snprintf(p, sizeof(p), "%s/versions/neuronex-2-%.8s", bundles, v2.m.sha256);
    CHECK(!exists(p));
    /* the same manifest is never retried */
    CHECK(apply(&o, &v2, reason, sizeof(reason)) == GF_APPLY_FAILED);
    CHECK_STR(reason, "failed_before");
    CHECK(count_lines_with("v2 ") == 1);
}

static long read_pid(const char *name)
{
    char p[600], text[32];

    join(p, sizeof(p), root, name);
    read_text(p, text, sizeof(text));
    return strtol(text, NULL, 10);
}

static int gone(long pid)
{
    for (int i = 0; i < 200; i++) {
        char p[64], st[256];
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            return 1;
        }
        snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
        read_text(p, st, sizeof(st));
        char *rp = strrchr(st, ')');
        if (rp != NULL && rp[1] == ' ' && rp[2] == 'Z') {
            return 1; /* a zombie of init's, not ours */
        }
        usleep(10000);
    }
    return 0;
}

static void test_action_timeout(void)
{
    char bundles[512], reason[32];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct tb v1, v2;
    long long t0;
    int st;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    add_action(&v2, "hang");
    v2.m.health_timeout_s = 1;
    apply_ok(&o, &v1);
    t0 = now_ms();
    CHECK(apply(&o, &v2, reason, sizeof(reason)) == GF_APPLY_ROLLED_BACK);
    CHECK(now_ms() - t0 < 7000); /* 1 s, at most 2 s grace, the rollback */
    CHECK_STR(reason, "action_timeout");
    expect_config(bundles, &v1);
    long pid = read_pid("hang.pid");
    CHECK(pid > 0 && gone(pid)); /* the action's background child died with its group */
    CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
    CHECK(count_lines_with("v1 ") == 2);
}

static void test_health(void)
{
    char bundles[512], reason[32], p[600];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct tb v1, v2, v3;
    long long t0;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    snprintf(v2.m.health_check, sizeof(v2.m.health_check), "check:fail");
    v2.m.health_timeout_s = 2;
    apply_ok(&o, &v1);
    t0 = now_ms();
    CHECK(apply(&o, &v2, reason, sizeof(reason)) == GF_APPLY_ROLLED_BACK);
    long long took = now_ms() - t0;
    CHECK(took >= 2000 && took < 6000);
    CHECK_STR(reason, "health_timeout");
    expect_config(bundles, &v1);
    CHECK(count_lines_with("check-fail") >= 2); /* retried about every second */
    CHECK(count_lines_with("v1 ") == 2);

    /* passes on the third try, about 2 s in */
    join(p, sizeof(p), root, "flaky.count");
    unlink(p);
    make(&v3, 3, "a");
    snprintf(v3.m.health_check, sizeof(v3.m.health_check), "check:flaky");
    v3.m.health_timeout_s = 10;
    t0 = now_ms();
    apply_ok(&o, &v3);
    CHECK(now_ms() - t0 >= 1800);
    CHECK(count_lines_with("check-flaky") == 3);
    expect_config(bundles, &v3);
}

static void test_unknown_action(void)
{
    char bundles[512], reason[32], list[512];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1, v2, v3;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    add_action(&v2, "restart:nope");
    apply_ok(&o, &v1);
    progress_log[0] = '\0';
    CHECK(apply(&o, &v2, reason, sizeof(reason)) == GF_APPLY_FAILED);
    CHECK_STR(reason, "unknown_action");
    CHECK_STR(progress_log, ""); /* refused before staging */
    expect_config(bundles, &v1);
    list_versions(bundles, list, sizeof(list));
    CHECK(strstr(list, "neuronex-2-") == NULL);
    CHECK(gf_installed_load(bundles, &in) == GF_OK);
    CHECK_STR(in.failed_sha256, v2.m.sha256);
    CHECK(count_lines_with("v1 ") == 1); /* nothing was switched, nothing reran */

    make(&v3, 3, "a"); /* an unknown health check too */
    snprintf(v3.m.health_check, sizeof(v3.m.health_check), "check:nope");
    CHECK(apply(&o, &v3, reason, sizeof(reason)) == GF_APPLY_FAILED);
    CHECK_STR(reason, "unknown_action");
    expect_config(bundles, &v1);
}

static void test_first_apply_rolls_back(void)
{
    char bundles[512], reason[32];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1;

    make(&v1, 1, "a");
    add_action(&v1, "fail");
    CHECK(apply(&o, &v1, reason, sizeof(reason)) == GF_APPLY_ROLLED_BACK);
    CHECK_STR(reason, "action_failed");
    expect_config(bundles, NULL);
    CHECK(gf_installed_load(bundles, &in) == GF_OK);
    CHECK_STR(in.failed_sha256, v1.m.sha256);
}

/* A big file for the disk-full case. */
static void make_big(struct tb *t, struct tb *small)
{
    size_t n = 1024u * 1024u;
    char *big = gf_malloc(n + 1);

    make(t, 2, "big");
    if (big != NULL) {
        memset(big, 'x', n);
        big[n] = '\0';
        add_file(t, "var/big.bin", big, 0644);
        gf_free(big);
    }
    make(small, 1, "a");
}

static void check_disk_full_after(const char *bundles, const struct tb *v1)
{
    char list[512];
    struct gf_installed in;

    expect_config(bundles, v1);
    list_versions(bundles, list, sizeof(list));
    CHECK(strstr(list, "neuronex-2-") == NULL); /* no staging dir left */
    CHECK(gf_installed_load(bundles, &in) == GF_OK);
    CHECK_STR(in.failed_sha256, ""); /* transient: may be retried */
}

/* ENOSPC: a 256 KiB tmpfs mounted on the bundles dir (needs root; skipped otherwise). */
static void test_disk_full_tmpfs(void)
{
    char bundles[512], reason[32];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct tb v1, v2;

    make_big(&v2, &v1);
    CHECK(gf_file_mkdirs(bundles, 0755) == GF_OK);
    if (mount("tmpfs", bundles, "tmpfs", 0, "size=256k") != 0) {
        printf("disk_full: tmpfs mount refused (%s), only the RLIMIT_FSIZE case runs\n",
               strerror(errno));
        return;
    }
    apply_ok(&o, &v1);
    CHECK(apply(&o, &v2, reason, sizeof(reason)) == GF_APPLY_FAILED);
    CHECK_STR(reason, "disk_full");
    check_disk_full_after(bundles, &v1);
    CHECK(umount(bundles) == 0);
}

/* EFBIG: RLIMIT_FSIZE of 256 KiB (SIGXFSZ ignored) in a forked child; always runs. */
static void test_disk_full_rlimit(void)
{
    char bundles[512], reason[32];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct tb v1, v2;
    int st = 0;

    make_big(&v2, &v1);
    apply_ok(&o, &v1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {256u * 1024u, 256u * 1024u};
        enum gf_apply_result res;
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        if (gf_apply(&o, &v2.m, "x", &res, reason, sizeof(reason)) != GF_OK) {
            _exit(2);
        }
        _exit(res == GF_APPLY_FAILED && strcmp(reason, "disk_full") == 0 ? 0 : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_disk_full_after(bundles, &v1);
}

static void test_symlinks(void)
{
    char bundles[512], reason[32], p[600], outside[600], link[700], d2[128];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct tb v1, v2, v3;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    apply_ok(&o, &v1);
    /* a leftover staging "dir" that is a symlink to a directory outside */
    join(outside, sizeof(outside), root, "outside");
    CHECK(gf_file_mkdirs(outside, 0755) == GF_OK);
    join(p, sizeof(p), outside, "keep");
    write_text(p, "keep\n");
    dir_of(&v2, d2, sizeof(d2));
    snprintf(link, sizeof(link), "%s/%s.staging", bundles, d2);
    CHECK(symlink(outside, link) == 0);
    apply_ok(&o, &v2);
    expect_config(bundles, &v2);
    CHECK(exists(p)); /* the link was removed as a name, its target untouched */
    CHECK(!exists(link));

    /* a blob that is a symlink is not followed */
    make(&v3, 3, "a");
    join(link, sizeof(link), blobs, v3.f[2].sha256);
    unlink(link);
    CHECK(symlink(p, link) == 0);
    CHECK(apply(&o, &v3, reason, sizeof(reason)) == GF_APPLY_FAILED);
    CHECK_STR(reason, "io");
    expect_config(bundles, &v2);
    unlink(link);
    put_blob("deep\n", 5, v3.f[2].sha256);
}

/* ---- crash recovery ---- */

/* Apply t in a child that dies at point; expect exit status 99. */
static void crash_at(const struct gf_apply_opts *o, const struct tb *t, const char *point)
{
    int st = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        enum gf_apply_result res;
        char reason[32];
        setenv("GF_AGENT_FAULT_AT", point, 1);
        gf_apply(o, &t->m, "22222222-2222-3333-4444-555555555555", &res, reason, sizeof(reason));
        _exit(1); /* the fault point was not reached */
    }
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 99);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 99) {
        fprintf(stderr, "crash at %s: status %d\n", point, st);
    }
}

static enum gf_apply_result recover(const struct gf_apply_opts *o, char *reason, size_t cap,
                                    struct gf_installed *in)
{
    enum gf_apply_result res = GF_APPLY_NOTHING;

    CHECK(gf_apply_recover(o, &res, reason, cap, in) == GF_OK);
    return res;
}

static void test_fault_points(void)
{
    static const struct {
        const char *point;
        enum gf_apply_result want;
        int new_config;
        const char *reason;
    } cases[] = {
        {"staged", GF_APPLY_KEPT_OLD, 0, "interrupted"},
        {"switching", GF_APPLY_KEPT_OLD, 0, "interrupted"},
        {"switched", GF_APPLY_APPLIED, 1, ""},
        {"actions", GF_APPLY_APPLIED, 1, ""},
        {"health", GF_APPLY_APPLIED, 1, ""},
        {"committing", GF_APPLY_APPLIED, 1, ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char bundles[512], reason[32], list[512];
        struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
        struct gf_installed in;
        struct tb v1, v2;

        make(&v1, 1, "a");
        make(&v2, 2, "a");
        snprintf(v2.m.health_check, sizeof(v2.m.health_check), "check:ok");
        apply_ok(&o, &v1);
        crash_at(&o, &v2, cases[i].point);
        CHECK(gf_apply(&o, &v2.m, "x", &(enum gf_apply_result){0}, reason, sizeof(reason)) ==
              GF_ERR_CONFLICT); /* recovery first */
        enum gf_apply_result res = recover(&o, reason, sizeof(reason), &in);
        CHECK(res == cases[i].want);
        CHECK_STR(reason, cases[i].reason);
        if (res != cases[i].want) {
            fprintf(stderr, "fault point %s: result %d\n", cases[i].point, (int)res);
        }
        expect_config(bundles, cases[i].new_config ? &v2 : &v1);
        CHECK_STR(in.sha256, cases[i].new_config ? v2.m.sha256 : v1.m.sha256);
        CHECK_STR(in.failed_sha256, "");
        list_versions(bundles, list, sizeof(list));
        CHECK(strstr(list, "neuronex-2-") != NULL || !cases[i].new_config);
        CHECK(strstr(list, "neuronex-2-") == NULL || cases[i].new_config);
        CHECK(strstr(list, "staging") == NULL);
        CHECK(count_lines_with("v1 ") == 1); /* never rolled back */
        CHECK(recover(&o, reason, sizeof(reason), NULL) == GF_APPLY_NOTHING);
        if (!cases[i].new_config) { /* the retained desired message tries again */
            apply_ok(&o, &v2);
            expect_config(bundles, &v2);
        }
    }
}

/* Crash after the switch; the resumed health check fails: rolled back. */
static void test_crash_then_rollback(void)
{
    char bundles[512], reason[32];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1, v2;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    snprintf(v2.m.health_check, sizeof(v2.m.health_check), "check:fail");
    v2.m.health_timeout_s = 1;
    apply_ok(&o, &v1);
    crash_at(&o, &v2, "actions");
    CHECK(recover(&o, reason, sizeof(reason), &in) == GF_APPLY_ROLLED_BACK);
    CHECK_STR(reason, "health_timeout");
    expect_config(bundles, &v1);
    CHECK_STR(in.failed_sha256, v2.m.sha256);
    CHECK(count_lines_with("v2 ") == 2 && count_lines_with("v1 ") == 2);
}

/* Replace the first occurrence of from with to in the journal. */
static void edit_journal(const char *bundles, const char *from, const char *to)
{
    char p[600], text[8192], out[8192];
    char *at;

    join(p, sizeof(p), bundles, "journal");
    read_text(p, text, sizeof(text));
    at = strstr(text, from);
    CHECK(at != NULL);
    if (at == NULL) {
        return;
    }
    *at = '\0';
    snprintf(out, sizeof(out), "%s%s%s", text, to, at + strlen(from));
    write_text(p, out);
}

static void test_interrupted_rollback_and_attempts(void)
{
    char bundles[512], reason[32];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1, v2, v3;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    apply_ok(&o, &v1);
    crash_at(&o, &v2, "switched");
    edit_journal(bundles, "\"step\":\"switching\"", "\"step\":\"rolling_back\"");
    edit_journal(bundles, "\"reason\":\"\"", "\"reason\":\"action_failed\"");
    CHECK(recover(&o, reason, sizeof(reason), &in) == GF_APPLY_ROLLED_BACK);
    CHECK_STR(reason, "action_failed");
    expect_config(bundles, &v1);
    CHECK_STR(in.failed_sha256, v2.m.sha256);

    /* a bundle whose actions keep crashing the box: resumed at most MAX times */
    make(&v3, 3, "a");
    crash_at(&o, &v3, "switched");
    edit_journal(bundles, "\"attempts\":1", "\"attempts\":3");
    CHECK(recover(&o, reason, sizeof(reason), &in) == GF_APPLY_ROLLED_BACK);
    CHECK_STR(reason, "too_many_attempts");
    expect_config(bundles, &v1);
    CHECK_STR(in.failed_sha256, v3.m.sha256);
    CHECK(count_lines_with("v3 ") == 0);
}

static void test_corrupt_journal(void)
{
    char bundles[512], reason[32], p[600], text[8192], link[256];
    struct gf_apply_opts o = fresh(bundles, sizeof(bundles));
    struct gf_installed in;
    struct tb v1, v2;
    ssize_t n;

    make(&v1, 1, "a");
    make(&v2, 2, "a");
    apply_ok(&o, &v1);
    /* current on v2, installed.json on v1, half a journal */
    crash_at(&o, &v2, "switched");
    join(p, sizeof(p), bundles, "current");
    n = readlink(p, link, sizeof(link) - 1);
    link[n > 0 ? n : 0] = '\0';
    CHECK(strstr(link, "neuronex-2-") != NULL);
    join(p, sizeof(p), bundles, "journal");
    read_text(p, text, sizeof(text));
    text[strlen(text) / 2] = '\0';
    write_text(p, text);
    CHECK(recover(&o, reason, sizeof(reason), &in) == GF_APPLY_ROLLED_BACK);
    CHECK_STR(reason, "journal_corrupt");
    expect_config(bundles, &v1);
    CHECK(count_lines_with("v1 ") == 2); /* v1's actions ran again */

    /* garbage with current still on v1: nothing to undo */
    write_text(p, "not json at all");
    CHECK(recover(&o, reason, sizeof(reason), &in) == GF_APPLY_KEPT_OLD);
    CHECK_STR(reason, "journal_corrupt");
    expect_config(bundles, &v1);
    /* valid JSON, a member missing */
    write_text(p, "{\"step\":\"actions\"}");
    CHECK(recover(&o, reason, sizeof(reason), &in) == GF_APPLY_KEPT_OLD);
    expect_config(bundles, &v1);
    /* the next apply works */
    apply_ok(&o, &v2);
    expect_config(bundles, &v2);
}

/* ---- set-up ---- */

static void write_scripts(void)
{
    char p[600], text[4096];
    struct gf_diag d;

    join(logpath, sizeof(logpath), root, "actions.log");
    join(p, sizeof(p), root, "log.sh");
    snprintf(text, sizeof(text), "echo \"$1 $GATEFLEET_BUNDLE_DIR\" >> '%s'\n", logpath);
    write_text(p, text);
    join(p, sizeof(p), root, "fail.sh");
    write_text(p, "echo failing; exit 1\n");
    join(p, sizeof(p), root, "hang.sh");
    snprintf(text, sizeof(text), "sleep 1000 &\necho $! > '%s/hang.pid'\nwait\n", root);
    write_text(p, text);
    join(p, sizeof(p), root, "checkfail.sh");
    snprintf(text, sizeof(text), "echo check-fail >> '%s'\nexit 1\n", logpath);
    write_text(p, text);
    join(p, sizeof(p), root, "flaky.sh");
    snprintf(text, sizeof(text),
             "echo check-flaky >> '%s'\nc=$(cat '%s/flaky.count' 2>/dev/null || echo 0)\n"
             "c=$((c+1)); echo $c > '%s/flaky.count'\n[ $c -ge 3 ]\n",
             logpath, root, root);
    write_text(p, text);
    join(p, sizeof(p), root, "actions.conf");
    snprintf(text, sizeof(text),
             "restart:v1 = /bin/sh %s/log.sh v1\nrestart:v2 = /bin/sh %s/log.sh v2\n"
             "restart:v3 = /bin/sh %s/log.sh v3\nfail = /bin/sh %s/fail.sh\n"
             "hang = /bin/sh %s/hang.sh\ncheck:ok = /bin/true\n"
             "check:fail = /bin/sh %s/checkfail.sh\ncheck:flaky = /bin/sh %s/flaky.sh\n",
             root, root, root, root, root, root, root);
    write_text(p, text);
    CHECK(gf_actions_load(p, &actions, &d) == GF_OK);
}

int main(void)
{
    if (mkdtemp(root) == NULL || gf_ids_init() != GF_OK) {
        perror("mkdtemp");
        return 1;
    }
    join(blobs, sizeof(blobs), root, "blobs");
    CHECK(gf_file_mkdirs(blobs, 0755) == GF_OK);
    write_scripts();
    if (actions == NULL) {
        return gf_test_summary("test_apply");
    }
    test_v1_v2_v3();
    test_action_failed();
    test_action_timeout();
    test_health();
    test_unknown_action();
    test_first_apply_rolls_back();
    test_disk_full_tmpfs();
    test_disk_full_rlimit();
    test_symlinks();
    test_fault_points();
    test_crash_then_rollback();
    test_interrupted_rollback_and_attempts();
    test_corrupt_journal();
    gf_actions_free(actions);
    if (gf_test_fail == 0) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot remove %s\n", root);
        }
    }
    return gf_test_summary("test_apply");
}
