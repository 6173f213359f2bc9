/* SPDX-License-Identifier: Apache-2.0
 *
 * test_proc.c - the child-process runner through proc.h, with real programs: exit status,
 * death by signal, an execve failure reported with its errno, environment additions that
 * replace a variable of the same name, stdin from /dev/null, output kept to the cap with the
 * truncation flag, the deadline and the cancel flag both killing the whole process group
 * (a grandchild included), bad arguments refused before anything starts, and several
 * threads running children at once. No child is ever left unreaped.
 */
#include "gf_test.h"
#include "proc_test.h"
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static enum gf_err sh(const char *script, char *const env[], long timeout_ms,
                      const atomic_int *cancel, char *out, size_t cap, struct gf_proc_result *r)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};

    return gf_proc_run(argv, env, timeout_ms, cancel, out, cap, r);
}

static void test_status(void)
{
    char out[256];
    struct gf_proc_result r;
    char *missing[] = {"/nonexistent/gf_proc_x", NULL};
    char *relative[] = {"bin/true", NULL};

    CHECK(sh("echo out; echo err >&2; exit 0", NULL, 5000, NULL, out, sizeof(out), &r) == GF_OK);
    CHECK(r.exited && r.exit_code == 0 && r.signal == 0 && !r.timed_out && !r.truncated);
    CHECK(strstr(out, "out\n") != NULL && strstr(out, "err\n") != NULL);
    CHECK(r.out_len == strlen(out));
    CHECK(sh("exit 7", NULL, 5000, NULL, NULL, 0, &r) == GF_OK);
    CHECK(r.exited && r.exit_code == 7);
    CHECK(sh("kill -USR1 $$", NULL, 5000, NULL, out, sizeof(out), &r) == GF_OK);
    CHECK(!r.exited && r.exit_code == -1 && r.signal == SIGUSR1);
    CHECK(gf_proc_run(missing, NULL, 5000, NULL, out, sizeof(out), &r) == GF_OK);
    CHECK(r.exec_errno == ENOENT && r.exit_code == 127);
    CHECK(sh("if read x; then echo got; fi; echo eof", NULL, 5000, NULL, out, sizeof(out), &r) ==
          GF_OK);
    CHECK_STR(out, "eof\n");
    /* bad arguments: nothing starts */
    CHECK(gf_proc_run(relative, NULL, 5000, NULL, out, sizeof(out), &r) == GF_ERR_INVAL);
    CHECK(sh("true", NULL, 0, NULL, out, sizeof(out), &r) == GF_ERR_INVAL);
    char *bad_env[] = {"NOEQUALS", NULL};
    CHECK(sh("true", bad_env, 5000, NULL, out, sizeof(out), &r) == GF_ERR_INVAL);
    CHECK(no_children());
}

static void test_env_and_output(void)
{
    char out[64], big[16];
    struct gf_proc_result r;
    char *env[] = {"GF_PROC_A=new value", "GF_PROC_B=b", NULL};

    setenv("GF_PROC_A", "old", 1);
    CHECK(sh("printf '%s|%s|%s' \"$GF_PROC_A\" \"$GF_PROC_B\" \"$(env | grep -c '^GF_PROC_A=')\"",
             env, 5000, NULL, out, sizeof(out), &r) == GF_OK);
    CHECK_STR(out, "new value|b|1");
    unsetenv("GF_PROC_A");
    /* 100 KB of output: the first cap - 1 bytes kept, the rest drained and flagged */
    CHECK(sh("i=0; while [ $i -lt 2000 ]; do echo "
             "0123456789012345678901234567890123456789012345678; i=$((i+1)); done",
             NULL, 10000, NULL, big, sizeof(big), &r) == GF_OK);
    CHECK(r.exited && r.exit_code == 0 && r.truncated && r.out_len == sizeof(big) - 1);
    CHECK_STR(big, "012345678901234");
    CHECK(sh("printf 'a\\000b'", NULL, 5000, NULL, out, sizeof(out), &r) == GF_OK);
    CHECK(r.out_len == 3 && memcmp(out, "a\0b", 3) == 0 && !r.truncated);
}

static void test_deadline_kills_group(void)
{
    char script[600], pidfile[512];
    struct gf_proc_result r;
    long long t0 = now_ms();

    path_in(pidfile, sizeof(pidfile), "hang.pid");
    snprintf(script, sizeof(script), "sleep 1000 & echo $! > '%s'; wait", pidfile);
    CHECK(sh(script, NULL, 300, NULL, NULL, 0, &r) == GF_OK);
    CHECK(r.timed_out && !r.cancelled && r.signal == SIGTERM);
    CHECK(now_ms() - t0 >= 300 && now_ms() - t0 < 4000);
    long pid = read_pid("hang.pid");
    CHECK(pid > 0 && gf_test_pid_gone(pid)); /* the grandchild too */
    CHECK(no_children());
}

struct canceller {
    atomic_int *flag;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;

    usleep(200000);
    atomic_store(c->flag, 1);
    return NULL;
}

static void test_cancel(void)
{
    char script[600], pidfile[512];
    struct gf_proc_result r;
    atomic_int flag = 0;
    struct canceller c = {&flag};
    pthread_t t;
    long long t0 = now_ms();

    path_in(pidfile, sizeof(pidfile), "cancel.pid");
    snprintf(script, sizeof(script), "sleep 1000 & echo $! > '%s'; wait", pidfile);
    CHECK(pthread_create(&t, NULL, cancel_later, &c) == 0);
    CHECK(sh(script, NULL, 60000, &flag, NULL, 0, &r) == GF_OK);
    pthread_join(t, NULL);
    CHECK(r.cancelled && !r.timed_out);
    CHECK(now_ms() - t0 < 4000);
    long pid = read_pid("cancel.pid");
    CHECK(pid > 0 && gf_test_pid_gone(pid));
    CHECK(no_children());
}

static void *run_one(void *arg)
{
    struct gf_proc_result r;
    char out[32];
    char script[64];
    int *ok = arg;

    snprintf(script, sizeof(script), "sleep 1; echo %d", *ok);
    *ok = sh(script, NULL, 5000, NULL, out, sizeof(out), &r) == GF_OK && r.exited &&
          r.exit_code == 0 && strtol(out, NULL, 10) == *ok;
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    int ok[4] = {1, 2, 3, 4};
    long long t0 = now_ms();

    for (int i = 0; i < 4; i++) {
        CHECK(pthread_create(&t[i], NULL, run_one, &ok[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(ok[i] == 1);
    }
    CHECK(now_ms() - t0 < 3000); /* in parallel, not one after another behind a lock */
    CHECK(no_children());
}

int main(void)
{
    if (gf_test_mkroot("/tmp/gf_proc_XXXXXX") != 0) {
        return 1;
    }
    test_status();
    test_env_and_output();
    test_deadline_kills_group();
    test_cancel();
    test_threads();
    gf_test_rmroot();
    return gf_test_summary("test_proc");
}
