/* SPDX-License-Identifier: Apache-2.0
 *
 * test_actions.c - the agent's local action map through actions.h: bad lines are refused
 * with file:line (no '=', bad name, relative command, too many arguments, duplicates, control
 * characters), a missing file is GF_ERR_NOTFOUND and no file is an empty map; running gives
 * OK / FAILED / UNKNOWN by exit status, passes GATEFLEET_BUNDLE_DIR, gives stdin from
 * /dev/null, captures stdout+stderr bounded by the caller's cap and GF_ACTIONS_OUTPUT; a
 * background grandchild holding the pipe does not stall a finished action; at the deadline
 * the whole process group is killed (SIGTERM, and SIGKILL 2 s later for a group that ignores
 * SIGTERM), and no child is ever left unreaped.
 */
#include "actions.h"
#include "gf_test.h"
#include "proc_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static enum gf_err load_text(const char *text, struct gf_actions **out, struct gf_diag *d)
{
    char p[512];

    write_text("actions.conf", text);
    path_in(p, sizeof(p), "actions.conf");
    gf_diag_clear(d);
    return gf_actions_load(p, out, d);
}

static void expect_bad(const char *text, int line, const char *msg_part)
{
    struct gf_actions *a = NULL;
    struct gf_diag d;
    char want[64];
    enum gf_err err = load_text(text, &a, &d);

    CHECK(err == GF_ERR_CONFIG);
    CHECK(a == NULL);
    snprintf(want, sizeof(want), "actions.conf:%d", line);
    size_t wl = strlen(want), dl = strlen(d.where);
    CHECK(dl >= wl && strcmp(d.where + dl - wl, want) == 0);
    CHECK(strstr(d.msg, msg_part) != NULL);
    if (err != GF_ERR_CONFIG || strstr(d.msg, msg_part) == NULL) {
        fprintf(stderr, "  for %s: %s: %s\n", text, d.where, d.msg);
    }
}

static void test_parse_errors(void)
{
    struct gf_actions *a = NULL;
    struct gf_diag d;

    expect_bad("# c\nok = /bin/true\nno equals here\n", 3, "expected");
    expect_bad("restart:x = bin/true\n", 1, "absolute");
    expect_bad("\n\nRestart = /bin/true\n", 3, "bad action name");
    expect_bad(":x = /bin/true\n", 1, "bad action name");
    expect_bad(" = /bin/true\n", 1, "bad action name");
    expect_bad("a = /bin/true\nb = /bin/true\na = /bin/false\n", 3, "twice");
    expect_bad("a =   \n", 1, "empty command");
    expect_bad("a = /bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", 1, "too many");
    expect_bad("a = /bin/echo \x01\n", 1, "control");

    /* 16 arguments in all is the limit; comments, blanks, CRLF and tabs are fine */
    CHECK(load_text("# comment\n\n  \t\r\nx.y_z:1-2\t=\t/bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 "
                    "14 15\r\n",
                    &a, &d) == GF_OK);
    CHECK(gf_actions_has(a, "x.y_z:1-2"));
    CHECK(!gf_actions_has(a, "x"));
    gf_actions_free(a);

    a = NULL;
    CHECK(gf_actions_load("/nonexistent/gf_actions.conf", &a, &d) == GF_ERR_NOTFOUND);
    CHECK(a == NULL);
    CHECK(gf_actions_load(NULL, &a, &d) == GF_OK && a != NULL);
    CHECK(!gf_actions_has(a, "anything"));
    CHECK(gf_actions_run(a, "anything", "/tmp", 1000, NULL, 0) == GF_ACTION_UNKNOWN);
    gf_actions_free(a);
    a = NULL;
    CHECK(gf_actions_load("", &a, &d) == GF_OK && a != NULL);
    gf_actions_free(a);
}

static struct gf_actions *load_map(void)
{
    char text[4096];
    struct gf_actions *a = NULL;
    struct gf_diag d;

    write_text("echo.sh", "printf 'hello\\n'\necho err >&2\n");
    write_text("big.sh", "i=0\nwhile [ $i -lt 2000 ]; do echo "
                         "0123456789012345678901234567890123456789012345678; i=$((i+1)); done\n");
    write_text("env.sh", "printf '%s' \"$GATEFLEET_BUNDLE_DIR\"\n");
    write_text("stdin.sh", "if read x; then echo got; exit 1; fi\necho eof\n");
    write_text("hang.sh", "sleep 1000 &\necho $! > \"$0.pid\"\nwait\n");
    write_text("stubborn.sh", "trap '' TERM\nsleep 1000 &\necho $! > \"$0.pid\"\nwait\nwait\n");
    write_text("bg.sh", "sleep 1000 &\necho $! > \"$0.pid\"\nexit 0\n");
    write_text("exit3.sh", "exit 3\n");
    snprintf(text, sizeof(text),
             "ok = /bin/true\n"
             "fail = /bin/false\n"
             "missing = /nonexistent/bin/x\n"
             "args = /bin/echo a  b\tc\n"
             "echo = /bin/sh %s/echo.sh\n"
             "big = /bin/sh %s/big.sh\n"
             "env = /bin/sh %s/env.sh\n"
             "stdin = /bin/sh %s/stdin.sh\n"
             "hang = /bin/sh %s/hang.sh\n"
             "stubborn = /bin/sh %s/stubborn.sh\n"
             "bg = /bin/sh %s/bg.sh\n"
             "exit3 = /bin/sh %s/exit3.sh\n",
             gf_test_root, gf_test_root, gf_test_root, gf_test_root, gf_test_root, gf_test_root,
             gf_test_root, gf_test_root);
    CHECK(load_text(text, &a, &d) == GF_OK);
    return a;
}

static void test_run(const struct gf_actions *a)
{
    char out[GF_ACTIONS_OUTPUT * 2];
    char small[10];

    CHECK(gf_actions_run(a, "ok", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK(gf_actions_run(a, "fail", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_FAILED);
    CHECK(gf_actions_run(a, "exit3", "/tmp", 5000, NULL, 0) == GF_ACTION_FAILED);
    CHECK(gf_actions_run(a, "missing", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_FAILED);
    CHECK(gf_actions_run(a, "nope", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_UNKNOWN);
    CHECK(gf_actions_run(a, "ok", "/tmp", 0, out, sizeof(out)) == GF_ACTION_TIMEOUT);
    CHECK(gf_actions_run(a, "args", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK_STR(out, "a b c\n");
    CHECK(gf_actions_run(a, "echo", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK(strstr(out, "hello\n") != NULL && strstr(out, "err\n") != NULL);
    CHECK(gf_actions_run(a, "env", "/some/bundle dir", 5000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK_STR(out, "/some/bundle dir");
    setenv("GATEFLEET_BUNDLE_DIR", "/stale", 1); /* replaced, not duplicated */
    CHECK(gf_actions_run(a, "env", "/fresh", 5000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK_STR(out, "/fresh");
    unsetenv("GATEFLEET_BUNDLE_DIR");
    CHECK(gf_actions_run(a, "stdin", "/tmp", 5000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK_STR(out, "eof\n");
    /* 100 KB of output: the first GF_ACTIONS_OUTPUT bytes kept, the rest drained */
    CHECK(gf_actions_run(a, "big", "/tmp", 10000, out, sizeof(out)) == GF_ACTION_OK);
    CHECK(strlen(out) == GF_ACTIONS_OUTPUT);
    CHECK(strncmp(out, "0123456789", 10) == 0);
    CHECK(gf_actions_run(a, "big", "/tmp", 10000, small, sizeof(small)) == GF_ACTION_OK);
    CHECK_STR(small, "012345678");
    CHECK(no_children());
}

static void test_background_child(const struct gf_actions *a)
{
    char pidfile[512];
    long long t0 = now_ms();

    /* the action exits at once; its background sleep keeps the pipe open */
    CHECK(gf_actions_run(a, "bg", "/tmp", 5000, NULL, 0) == GF_ACTION_OK);
    CHECK(now_ms() - t0 < 3000); /* not held up by the grandchild */
    long pid = read_pid("bg.sh.pid");
    CHECK(pid > 0);
    if (pid > 0) {
        kill((pid_t)pid, SIGKILL);
    }
    path_in(pidfile, sizeof(pidfile), "bg.sh.pid");
    unlink(pidfile);
    CHECK(no_children());
}

static void test_timeout(const struct gf_actions *a)
{
    char out[64];
    long long t0 = now_ms();

    CHECK(gf_actions_run(a, "hang", "/tmp", 300, out, sizeof(out)) == GF_ACTION_TIMEOUT);
    long long took = now_ms() - t0;
    /* SIGTERM is enough; the group may still look alive for up to the 2 s grace when an
     * init that reaps slowly leaves the killed grandchild a zombie in it */
    CHECK(took >= 300 && took < 4000);
    long pid = read_pid("hang.sh.pid");
    CHECK(pid > 0 && gf_test_pid_gone(pid)); /* the whole group, not just the shell */
    CHECK(no_children());

    t0 = now_ms();
    CHECK(gf_actions_run(a, "stubborn", "/tmp", 300, out, sizeof(out)) == GF_ACTION_TIMEOUT);
    took = now_ms() - t0;
    CHECK(took >= 2300 && took < 6000); /* SIGTERM ignored: SIGKILL after 2 s */
    pid = read_pid("stubborn.sh.pid");
    CHECK(pid > 0 && gf_test_pid_gone(pid));
    CHECK(no_children());
}

int main(void)
{
    struct gf_actions *a;

    if (gf_test_mkroot("/tmp/gf_actions_XXXXXX") != 0) {
        return 1;
    }
    test_parse_errors();
    a = load_map();
    if (a != NULL) {
        test_run(a);
        test_background_child(a);
        test_timeout(a);
        gf_actions_free(a);
    }
    gf_test_rmroot();
    return gf_test_summary("test_actions");
}
