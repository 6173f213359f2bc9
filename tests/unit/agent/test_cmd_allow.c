/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cmd_allow.c - the command allowlist file through cmd.h: a good file (comments, blank
 * lines, CRLF, tabs, parameters, literal braces) loads; every kind of bad line is refused
 * with its file:line (no '=', bad name, relative command, a parameter as the command, bad
 * parameter token or name, bad or empty regex, a parameter declared twice, too many argv
 * elements, too many entries, a duplicate, a built-in's name, control characters); a
 * missing file is GF_ERR_NOTFOUND, no file an empty list. Arguments: the argv built from good
 * args is exact; values that fail the regex (shell metacharacters, command substitution,
 * newlines, path traversal), control characters, over-long values, non-strings, undeclared
 * and missing keys are refused with the argument named; regexes are anchored whatever the
 * file says.
 */
#include "cmd/cmd.h"
#include "gf_test.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[] = "/tmp/gf_cmd_allow_XXXXXX";

static void allow_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/commands.conf", root);
}

static enum gf_err load_text(const char *text, struct gf_cmd_allow **out, struct gf_diag *d)
{
    char p[512];
    FILE *f;

    allow_path(p, sizeof(p));
    f = fopen(p, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
    gf_diag_clear(d);
    return gf_cmd_allow_load(p, out, d);
}

static void expect_bad(const char *text, int line, const char *msg_part)
{
    struct gf_cmd_allow *a = NULL;
    struct gf_diag d;
    char want[64];
    enum gf_err err = load_text(text, &a, &d);
    size_t wl, dl;

    CHECK(err == GF_ERR_CONFIG);
    CHECK(a == NULL);
    snprintf(want, sizeof(want), "commands.conf:%d", line);
    wl = strlen(want);
    dl = strlen(d.where);
    CHECK(dl >= wl && strcmp(d.where + dl - wl, want) == 0);
    CHECK(strstr(d.msg, msg_part) != NULL);
    if (err != GF_ERR_CONFIG || strstr(d.msg, msg_part) == NULL ||
        !(dl >= wl && strcmp(d.where + dl - wl, want) == 0)) {
        fprintf(stderr, "  for %s: %s: %s\n", text, d.where, d.msg);
    }
    gf_cmd_allow_free(a);
}

static void test_bad_lines(void)
{
    char many[128 * 40 + 64], *p = many;

    expect_bad("# c\nok = /bin/true\nno equals here\n", 3, "expected");
    expect_bad("\n\nRestart = /bin/true\n", 3, "bad command name");
    expect_bad(" = /bin/true\n", 1, "bad command name");
    expect_bad("a b = /bin/true\n", 1, "bad command name");
    expect_bad("x = bin/true\n", 1, "absolute path");
    expect_bad("x = {host:.*} /bin/true\n", 1, "absolute path");
    expect_bad("x =   \n", 1, "empty command");
    expect_bad("x = /bin/echo {host}\n", 1, "{name:REGEX}");
    expect_bad("x = /bin/echo {host:.*\n", 1, "{name:REGEX}");
    expect_bad("x = /bin/echo {Host:.*}\n", 1, "bad parameter name");
    expect_bad("x = /bin/echo {:.*}\n", 1, "bad parameter name");
    expect_bad("x = /bin/echo {host:}\n", 1, "empty regex");
    expect_bad("x = /bin/echo {host:[a-z}\n", 1, "bad regex for parameter host");
    expect_bad("x = /bin/echo {host:(a}\n", 1, "bad regex for parameter host");
    expect_bad("x = /bin/echo {a:.*} {a:.*}\n", 1, "declared twice");
    expect_bad("a = /bin/true\nb = /bin/true\na = /bin/false\n", 3, "defined twice");
    expect_bad("\nping = /bin/true\n", 2, "built-in");
    expect_bad("shell = /bin/sh\n", 1, "built-in");
    expect_bad("agent.restart = /sbin/reboot\n", 1, "built-in");
    expect_bad("x = /bin/echo \x01\n", 1, "control");
    expect_bad("x = /bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 "
               "25 26 27 28 29 30 31 32\n",
               1, "more than 32");
    for (int i = 0; i < 129; i++) {
        p += snprintf(p, sizeof(many) - (size_t)(p - many), "c%d = /bin/true\n", i);
    }
    expect_bad(many, 129, "more than 128");
}

static struct gf_cmd_allow *load_good(void)
{
    struct gf_cmd_allow *a = NULL;
    struct gf_diag d;

    /* 32 argv elements in all is the limit */
    CHECK(load_text("# operator commands\n"
                    "\n  \t\r\n"
                    "service.restart:neuronex = /usr/bin/systemctl restart neuronex\r\n"
                    "net.ping\t=\t/bin/ping -c 3 -W 2 {host:^[A-Za-z0-9.:-]{1,253}$}\n"
                    "unanchored = /bin/echo {word:abc}\n"
                    "alt = /bin/echo {v:a|b}\n"
                    "two = /bin/echo --x {x:[0-9]+} -- {y_2:[a-z]{2}} end\n"
                    "free = /bin/echo {text:.*}\n"
                    "braces = /usr/bin/find /tmp -exec /bin/true x{} ;\n"
                    "long = /bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 "
                    "23 24 25 26 27 28 29 30 31\n",
                    &a, &d) == GF_OK);
    if (a == NULL) {
        fprintf(stderr, "  %s: %s\n", d.where, d.msg);
    }
    return a;
}

static int argv_is(char **argv, const char *const *want)
{
    size_t i = 0;

    for (; want[i] != NULL; i++) {
        if (argv == NULL || argv[i] == NULL || strcmp(argv[i], want[i]) != 0) {
            return 0;
        }
    }
    return argv[i] == NULL;
}

/* argv for name with args given as JSON text. */
static enum gf_err build(const struct gf_cmd_allow *a, const char *name, const char *args_json,
                         char ***argv, struct gf_diag *d)
{
    json_t *args = args_json != NULL ? json_loads(args_json, 0, NULL) : NULL;
    enum gf_err err;

    gf_diag_clear(d);
    *argv = NULL;
    err = gf_cmd_allow_argv(a, name, args, argv, d);
    json_decref(args);
    return err;
}

static void expect_refused(const struct gf_cmd_allow *a, const char *name, const char *args,
                           const char *where, const char *msg_part)
{
    char **argv = NULL;
    struct gf_diag d;
    enum gf_err err = build(a, name, args, &argv, &d);

    CHECK(err == GF_ERR_INVAL);
    CHECK(argv == NULL);
    CHECK_STR(d.where, where);
    CHECK(strstr(d.msg, msg_part) != NULL);
    if (err != GF_ERR_INVAL || strstr(d.msg, msg_part) == NULL) {
        fprintf(stderr, "  for %s %s: %s: %s\n", name, args, d.where, d.msg);
    }
    gf_free(argv);
}

static void test_argv(const struct gf_cmd_allow *a)
{
    static const char *const restart[] = {"/usr/bin/systemctl", "restart", "neuronex", NULL};
    static const char *const ping[] = {"/bin/ping", "-c", "3", "-W", "2", "10.0.0.5", NULL};
    static const char *const two[] = {"/bin/echo", "--x", "42", "--", "ab", "end", NULL};
    static const char *const braces[] = {"/usr/bin/find", "/tmp", "-exec", "/bin/true",
                                         "x{}",           ";",    NULL};
    static const char *const spaced[] = {"/bin/echo", "a b; c", NULL};
    char **argv = NULL;
    struct gf_diag d;

    CHECK(gf_cmd_allow_has(a, "service.restart:neuronex"));
    CHECK(gf_cmd_allow_has(a, "net.ping"));
    CHECK(!gf_cmd_allow_has(a, "service.restart"));
    CHECK(build(a, "service.restart:neuronex", NULL, &argv, &d) == GF_OK && argv_is(argv, restart));
    gf_free(argv);
    CHECK(build(a, "service.restart:neuronex", "{}", &argv, &d) == GF_OK && argv_is(argv, restart));
    gf_free(argv);
    CHECK(build(a, "net.ping", "{\"host\":\"10.0.0.5\"}", &argv, &d) == GF_OK &&
          argv_is(argv, ping));
    gf_free(argv);
    CHECK(build(a, "two", "{\"y_2\":\"ab\",\"x\":\"42\"}", &argv, &d) == GF_OK &&
          argv_is(argv, two));
    gf_free(argv);
    CHECK(build(a, "braces", NULL, &argv, &d) == GF_OK && argv_is(argv, braces));
    gf_free(argv);
    /* a value is one argv element, blanks and metacharacters included: no shell sees it */
    CHECK(build(a, "free", "{\"text\":\"a b; c\"}", &argv, &d) == GF_OK && argv_is(argv, spaced));
    gf_free(argv);
    CHECK(build(a, "long", NULL, &argv, &d) == GF_OK && argv != NULL && argv[31] != NULL &&
          strcmp(argv[31], "31") == 0 && argv[32] == NULL);
    gf_free(argv);
    CHECK(build(a, "nope", "{}", &argv, &d) == GF_ERR_NOTFOUND && argv == NULL);
    CHECK(build(a, "ping", "{}", &argv, &d) == GF_ERR_NOTFOUND); /* built-ins are not here */

    /* injection attempts and bad values for a strict regex */
    expect_refused(a, "net.ping", "{\"host\":\"a;rm -rf /\"}", "/args/host", "does not match");
    expect_refused(a, "net.ping", "{\"host\":\"$(x)\"}", "/args/host", "does not match");
    expect_refused(a, "net.ping", "{\"host\":\"`id`\"}", "/args/host", "does not match");
    expect_refused(a, "net.ping", "{\"host\":\"a b\"}", "/args/host", "does not match");
    expect_refused(a, "net.ping", "{\"host\":\"-oProxyCommand=x\"}", "/args/host",
                   "does not match");
    expect_refused(a, "net.ping", "{\"host\":\"a\\nb\"}", "/args/host", "control character");
    expect_refused(a, "net.ping", "{\"host\":\"\"}", "/args/host", "does not match");
    expect_refused(a, "net.ping", "{\"host\":\"h\\u00e9\"}", "/args/host", "does not match");
    expect_refused(a, "net.ping", "{\"host\":5}", "/args/host", "must be a string");
    expect_refused(a, "net.ping", "{\"host\":null}", "/args/host", "must be a string");
    expect_refused(a, "net.ping", "{}", "/args/host", "missing argument host");
    expect_refused(a, "net.ping", NULL, "/args/host", "missing argument host");
    expect_refused(a, "net.ping", "{\"host\":\"a\",\"count\":\"9\"}", "/args",
                   "undeclared argument count");
    expect_refused(a, "service.restart:neuronex", "{\"unit\":\"x\"}", "/args",
                   "undeclared argument unit");
    expect_refused(a, "net.ping", "[\"10.0.0.5\"]", "/args", "must be an object");
    /* .* allows anything printable, but not control characters nor more than 1024 bytes */
    expect_refused(a, "free", "{\"text\":\"a\\nrm -rf /\"}", "/args/text", "control character");
    expect_refused(a, "free", "{\"text\":\"a\\tb\"}", "/args/text", "control character");
    expect_refused(a, "free", "{\"text\":\"a\\u007fb\"}", "/args/text", "control character");
    /* anchoring: the whole value must match, alternations included */
    expect_refused(a, "unanchored", "{\"word\":\"xabcx\"}", "/args/word", "does not match");
    expect_refused(a, "unanchored", "{\"word\":\"abc;ls\"}", "/args/word", "does not match");
    CHECK(build(a, "unanchored", "{\"word\":\"abc\"}", &argv, &d) == GF_OK);
    gf_free(argv);
    expect_refused(a, "alt", "{\"v\":\"ab\"}", "/args/v", "does not match");
    expect_refused(a, "alt", "{\"v\":\"a;b\"}", "/args/v", "does not match");
    CHECK(build(a, "alt", "{\"v\":\"b\"}", &argv, &d) == GF_OK);
    gf_free(argv);
    expect_refused(a, "two", "{\"x\":\"1\",\"y_2\":\"abc\"}", "/args/y_2", "does not match");
}

static void test_lengths(const struct gf_cmd_allow *a)
{
    char json[GF_CMD_ARG_MAX + 64], **argv = NULL;
    struct gf_diag d;
    size_t n;

    n = (size_t)snprintf(json, sizeof(json), "{\"text\":\"");
    memset(json + n, 'a', GF_CMD_ARG_MAX);
    snprintf(json + n + GF_CMD_ARG_MAX, sizeof(json) - n - GF_CMD_ARG_MAX, "\"}");
    CHECK(build(a, "free", json, &argv, &d) == GF_OK && argv != NULL &&
          strlen(argv[1]) == GF_CMD_ARG_MAX);
    gf_free(argv);
    n = (size_t)snprintf(json, sizeof(json), "{\"text\":\"");
    memset(json + n, 'a', GF_CMD_ARG_MAX + 1);
    snprintf(json + n + GF_CMD_ARG_MAX + 1, sizeof(json) - n - GF_CMD_ARG_MAX - 1, "\"}");
    expect_refused(a, "free", json, "/args/text", "longer than 1024");
    /* 254 characters for a 1..253 regex */
    n = (size_t)snprintf(json, sizeof(json), "{\"host\":\"");
    memset(json + n, 'h', 254);
    snprintf(json + n + 254, sizeof(json) - n - 254, "\"}");
    expect_refused(a, "net.ping", json, "/args/host", "does not match");
}

static void test_files(void)
{
    struct gf_cmd_allow *a = NULL;
    struct gf_diag d;

    CHECK(gf_cmd_allow_load("/nonexistent/gf_commands.conf", &a, &d) == GF_ERR_NOTFOUND);
    CHECK(a == NULL);
    CHECK(gf_cmd_allow_load(NULL, &a, &d) == GF_OK && a != NULL);
    CHECK(!gf_cmd_allow_has(a, "anything"));
    gf_cmd_allow_free(a);
    a = NULL;
    CHECK(gf_cmd_allow_load("", &a, &d) == GF_OK && a != NULL);
    gf_cmd_allow_free(a);
    CHECK(gf_cmd_is_builtin("ping") && gf_cmd_is_builtin("shell") &&
          gf_cmd_is_builtin("logs.tail") && !gf_cmd_is_builtin("net.ping"));
}

int main(void)
{
    struct gf_cmd_allow *a;

    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_files();
    test_bad_lines();
    a = load_good();
    if (a != NULL) {
        test_argv(a);
        test_lengths(a);
        gf_cmd_allow_free(a);
    }
    if (gf_test_fail == 0) {
        char p[512];
        allow_path(p, sizeof(p));
        unlink(p);
        rmdir(root);
    }
    return gf_test_summary("test_cmd_allow");
}
