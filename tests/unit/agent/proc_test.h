/* SPDX-License-Identifier: Apache-2.0
 *
 * proc_test.h - helpers of the tests that run child processes (test_proc.c, test_actions.c,
 * test_cmd_run.c): a scratch directory (gf_test_root, made by gf_test_mkroot, removed by
 * gf_test_rmroot when every check passed), files in it, a monotonic clock, the pid a test
 * script wrote to a file, and waiting until a process is gone (or a zombie that is not ours
 * to reap), as the process-group kill promises.
 */
#ifndef GF_PROC_TEST_H
#define GF_PROC_TEST_H

#include "gf_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char gf_test_root[64];

/* mkdtemp of tmpl (".../name_XXXXXX") into gf_test_root; 0 on success. */
static inline int gf_test_mkroot(const char *tmpl)
{
    snprintf(gf_test_root, sizeof(gf_test_root), "%s", tmpl);
    if (mkdtemp(gf_test_root) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* rm -rf gf_test_root, unless a check failed (what it holds helps to see why). */
static inline void gf_test_rmroot(void)
{
    char cmd[128];

    if (gf_test_fail != 0) {
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", gf_test_root);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", gf_test_root);
    }
}

/* gf_test_root/name in out (empty when it does not fit). */
static inline void path_in(char *out, size_t cap, const char *name)
{
    if (snprintf(out, cap, "%s/%s", gf_test_root, name) >= (int)cap) {
        out[0] = '\0';
    }
}

static inline void write_text(const char *name, const char *text)
{
    char p[512];
    FILE *f;

    path_in(p, sizeof(p), name);
    f = fopen(p, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static inline long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The number in gf_test_root/name, or -1 when it is missing or empty. */
static inline long read_pid(const char *name)
{
    char p[512], text[32];
    size_t n = 0;
    FILE *f;

    path_in(p, sizeof(p), name);
    if ((f = fopen(p, "r")) != NULL) {
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    }
    text[n] = '\0';
    return n > 0 ? strtol(text, NULL, 10) : -1;
}

/* 1 when pid is gone or a zombie, polling up to 2 s. */
static inline int gf_test_pid_gone(long pid)
{
    for (int i = 0; i < 200; i++) {
        char p[64], st[256];
        FILE *f;

        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            return 1;
        }
        snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
        f = fopen(p, "r");
        if (f != NULL) {
            size_t n = fread(st, 1, sizeof(st) - 1, f);
            fclose(f);
            st[n] = '\0';
            char *rp = strrchr(st, ')');
            if (rp != NULL && rp[1] == ' ' && rp[2] == 'Z') {
                return 1;
            }
        }
        usleep(10000);
    }
    return 0;
}

/* No child of ours is left, running or zombie. */
static inline int no_children(void)
{
    int st;

    return waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD;
}

#endif
