/* SPDX-License-Identifier: Apache-2.0
 *
 * test_conf.c - the config table loader: defaults, types with units and bounds, file
 * parsing with file:line errors, environment and argv precedence, unknown keys, and every
 * allocation failure handled.
 */
#include "alloc.h"
#include "conf.h"
#include "gf_test.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

struct settings {
    char *listen;
    long threads;
    long timeout;
    long size;
    int flag;
    char *level;
    char *name;
};

static const struct gf_conf_key keys[] = {
    {"listen", GF_CONF_HOSTPORT, "127.0.0.1:8080", 0, 0, offsetof(struct settings, listen), "l"},
    {"threads", GF_CONF_INT, "4", 1, 64, offsetof(struct settings, threads), "t"},
    {"timeout", GF_CONF_DURATION, "30s", 0, 86400, offsetof(struct settings, timeout), "d"},
    {"size", GF_CONF_SIZE, "1k", 0, 1L << 30, offsetof(struct settings, size), "s"},
    {"flag", GF_CONF_BOOL, "false", 0, 0, offsetof(struct settings, flag), "f"},
    {"level", GF_CONF_LEVEL, "info", 0, 0, offsetof(struct settings, level), "lv"},
    {"name", GF_CONF_STR, NULL, 0, 0, offsetof(struct settings, name), "n"},
};
static const struct gf_conf_table table = {keys, sizeof(keys) / sizeof(keys[0]), "GFTEST_"};

static void test_defaults_and_types(void)
{
    struct settings s = {0};
    struct gf_diag d;

    CHECK(gf_conf_defaults(&table, &s, &d) == GF_OK);
    CHECK_STR(s.listen, "127.0.0.1:8080");
    CHECK(s.threads == 4 && s.timeout == 30 && s.size == 1024 && s.flag == 0);
    CHECK(s.name == NULL);
    CHECK(gf_conf_set(&table, &s, "timeout", "5m", &d) == GF_OK && s.timeout == 300);
    CHECK(gf_conf_set(&table, &s, "size", "8m", &d) == GF_OK && s.size == 8L * 1024 * 1024);
    CHECK(gf_conf_set(&table, &s, "flag", "yes", &d) == GF_OK && s.flag == 1);
    CHECK(gf_conf_set(&table, &s, "listen", "[::1]:0", &d) == GF_OK);
    CHECK(gf_conf_set(&table, &s, "threads", "65", &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "threads");
    CHECK(strstr(d.msg, "out of range") != NULL);
    CHECK(gf_conf_set(&table, &s, "threads", "4x", &d) == GF_ERR_CONFIG);
    CHECK(gf_conf_set(&table, &s, "timeout", "5 weeks", &d) == GF_ERR_CONFIG);
    CHECK(gf_conf_set(&table, &s, "listen", "nohost", &d) == GF_ERR_CONFIG);
    CHECK(gf_conf_set(&table, &s, "listen", "h:70000", &d) == GF_ERR_CONFIG);
    CHECK(gf_conf_set(&table, &s, "level", "loud", &d) == GF_ERR_CONFIG);
    CHECK(gf_conf_set(&table, &s, "flag", "maybe", &d) == GF_ERR_CONFIG);
    CHECK(gf_conf_set(&table, &s, "bogus", "1", &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "bogus");
    CHECK(s.threads == 4); /* failed sets change nothing */
    gf_conf_free(&table, &s);
}

static void test_file_env_args(void)
{
    char path[] = "/tmp/gf_conf_test_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "# comment\n\nthreads = 8\nname = \"two words\"\n";
    struct settings s = {0};
    struct gf_diag d;
    int argi = 1, print = 0;

    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    setenv("GFTEST_THREADS", "9", 1);
    char *argv[] = {"prog", "--config", path, "--timeout", "2h", "--flag=true", "serve", NULL};
    CHECK(gf_conf_load(&table, &s, 7, argv, &argi, &print, &d) == GF_OK);
    CHECK(s.threads == 9);        /* env beats file */
    CHECK_STR(s.name, "two words");
    CHECK(s.timeout == 7200 && s.flag == 1);
    CHECK(argi == 6);             /* stops at the command */
    unsetenv("GFTEST_THREADS");
    gf_conf_free(&table, &s);

    /* A bad line names file:line. */
    FILE *f = fopen(path, "w");
    fputs("threads = 2\nthreads 3\n", f);
    fclose(f);
    memset(&s, 0, sizeof(s));
    CHECK(gf_conf_load_file(&table, &s, path, &d) == GF_ERR_CONFIG);
    CHECK(strstr(d.msg, ":2:") != NULL);
    gf_conf_free(&table, &s);

    /* Unknown environment key with our prefix is an error, not ignored. */
    setenv("GFTEST_THREDS", "3", 1);
    memset(&s, 0, sizeof(s));
    CHECK(gf_conf_load_env(&table, &s, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "threds");
    unsetenv("GFTEST_THREDS");
    gf_conf_free(&table, &s);

    /* Unknown option. */
    char *argv2[] = {"prog", "--nope", "1", NULL};
    argi = 1;
    memset(&s, 0, sizeof(s));
    CHECK(gf_conf_load(&table, &s, 3, argv2, &argi, &print, &d) == GF_ERR_CONFIG);
    CHECK(strstr(d.msg, "--nope") != NULL);
    gf_conf_free(&table, &s);
    unlink(path);
}

static void test_alloc_failures(void)
{
    /* Every allocation failure returns an error, never crashes or leaks (ASan checks). */
    for (long n = 0; n < 20; n++) {
        struct settings s = {0};
        struct gf_diag d;
        gf_alloc_fail_after(n);
        enum gf_err err = gf_conf_defaults(&table, &s, &d);
        if (err == GF_OK) {
            err = gf_conf_set(&table, &s, "name", "x", &d);
        }
        gf_alloc_fail_after(-1);
        CHECK(err == GF_OK || err == GF_ERR_NOMEM);
        gf_conf_free(&table, &s);
    }
}

int main(void)
{
    test_defaults_and_types();
    test_file_env_args();
    test_alloc_failures();
    return gf_test_summary("test_conf");
}
