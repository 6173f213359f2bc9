/* SPDX-License-Identifier: Apache-2.0
 *
 * proc_test.h - helpers of the tests that run child processes (test_proc.c, test_actions.c,
 * test_cmd_run.c): read a pid a test script wrote to a file, and wait until a process is
 * gone (or a zombie that is not ours to reap), as the process-group kill promises.
 */
#ifndef GF_PROC_TEST_H
#define GF_PROC_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The number in the file at path, or -1 when it is missing or empty. */
static inline long gf_test_read_pid(const char *path)
{
    char text[32];
    size_t n = 0;
    FILE *f = fopen(path, "r");

    if (f != NULL) {
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

#endif
