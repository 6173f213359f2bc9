/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cmd_run.c - the command runner through cmd.h, with real processes (/bin/sh scripts in
 * a temp dir as allowlisted commands) and results collected by a test publish hook:
 * success with output and `running` first; failure with the exit code; output cut at
 * commands_output_max and made valid UTF-8; a timeout kills the whole process group (a
 * grandchild included); a message expiry shorter than timeout_ms wins; busy when
 * max_running are running; malformed and invalid requests rejected with a precise error and
 * never run; a duplicate runs once (marker file), while running and after; a new runner on
 * the same state_dir (restart) still runs it once, and a command cut by a crash is reported
 * failed on redelivery; shell off and on; every built-in calls its hook and publishes
 * running + final, agent.restart after its result is recorded and published; gf_cmd_stop
 * kills running commands.
 */
#include "cmd/cmd.h"
#include "gf_test.h"
#include "proc_test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char state_dir[600], allow_file[600];

/* ---- helpers ---- */

/* Lines in a marker file: how many times a command ran. */
static int count_lines(const char *name)
{
    char p[600];
    int n = 0, ch;
    FILE *f;

    path_in(p, sizeof(p), name);
    f = fopen(p, "r");
    if (f == NULL) {
        return 0;
    }
    while ((ch = fgetc(f)) != EOF) {
        n += ch == '\n';
    }
    fclose(f);
    return n;
}

static void wait_file(const char *name, int ms)
{
    char p[600];

    path_in(p, sizeof(p), name);
    for (int i = 0; i < ms / 10 && access(p, F_OK) != 0; i++) {
        usleep(10000);
    }
}

/* ---- the test hooks: published results, hook calls ---- */

#define MSGS_MAX 512

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct msg {
    char id[80];
    char *json;
} msgs[MSGS_MAX];
static size_t nmsgs;
static atomic_int calls_health, calls_inventory, calls_bundle, calls_logs, calls_restart;
static atomic_int restart_saw_final; /* the final result was published before restart was called */
static char restart_id[80];
static json_t *logs_args_seen;
static atomic_int fail_health;
static atomic_int bad_len;   /* publish got a len that is not the text's */
static atomic_int bad_final; /* publish's final flag disagreed with the result's status */

static enum gf_err publish(void *ud, const char *id, const char *json, size_t len, int final)
{
    (void)ud;
    if (strlen(json) != len) {
        atomic_store(&bad_len, 1);
    }
    if (final != (strstr(json, "\"status\":\"running\"") == NULL)) {
        atomic_store(&bad_final, 1);
    }
    pthread_mutex_lock(&mu);
    if (nmsgs < MSGS_MAX) {
        snprintf(msgs[nmsgs].id, sizeof(msgs[nmsgs].id), "%s", id != NULL ? id : "(null)");
        msgs[nmsgs].json = strdup(json);
        nmsgs++;
    }
    pthread_mutex_unlock(&mu);
    return GF_OK;
}

static void clear_msgs(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nmsgs; i++) {
        free(msgs[i].json);
    }
    nmsgs = 0;
    pthread_mutex_unlock(&mu);
}

static enum gf_err health_now(void *ud, json_t **r)
{
    (void)ud;
    atomic_fetch_add(&calls_health, 1);
    if (fail_health) {
        return GF_ERR_UNAVAILABLE;
    }
    *r = json_pack("{s:i}", "cpu_pct", 7);
    return GF_OK;
}

static enum gf_err inventory_refresh(void *ud, json_t **r)
{
    (void)ud;
    atomic_fetch_add(&calls_inventory, 1);
    *r = json_pack("{s:s}", "hostname", "station-7");
    return GF_OK;
}

static enum gf_err bundle_status(void *ud, json_t **r)
{
    (void)ud;
    atomic_fetch_add(&calls_bundle, 1);
    *r = json_pack("{s:s, s:i}", "name", "neuronex", "version", 3);
    return GF_OK;
}

static enum gf_err logs_tail(void *ud, const json_t *args, json_t **r)
{
    (void)ud;
    atomic_fetch_add(&calls_logs, 1);
    json_decref(logs_args_seen);
    logs_args_seen = json_deep_copy(args);
    *r = json_pack("{s:[s]}", "lines", "last line");
    return GF_OK;
}

/* The final result of id as a JSON object (caller decrefs), or NULL. */
static json_t *final_of(const char *id);

static void restart(void *ud)
{
    json_t *f = final_of(restart_id);

    (void)ud;
    atomic_fetch_add(&calls_restart, 1);
    restart_saw_final =
        f != NULL && strcmp(json_string_value(json_object_get(f, "status")), "succeeded") == 0;
    json_decref(f);
}

static const struct gf_cmd_hooks hooks = {
    NULL, health_now, inventory_refresh, bundle_status, logs_tail, restart, publish};

/* ---- reading the results ---- */

static int is_final(const json_t *o)
{
    const char *st = json_string_value(json_object_get(o, "status"));

    return st != NULL && strcmp(st, "running") != 0;
}

/* Messages for id: total, and the n-th final one (0-based) as an object. */
static json_t *nth_final(const char *id, int nth, int *total)
{
    json_t *found = NULL;
    int seen = 0, count = 0;

    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nmsgs; i++) {
        if (strcmp(msgs[i].id, id) != 0) {
            continue;
        }
        count++;
        json_t *o = json_loads(msgs[i].json, 0, NULL);
        CHECK(o != NULL); /* every message is valid JSON */
        if (o != NULL && is_final(o) && seen++ == nth && found == NULL) {
            found = o;
        } else {
            json_decref(o);
        }
    }
    pthread_mutex_unlock(&mu);
    if (total != NULL) {
        *total = count;
    }
    return found;
}

static json_t *final_of(const char *id)
{
    return nth_final(id, 0, NULL);
}

static int count_msgs(const char *id)
{
    int total = 0;
    json_t *o = nth_final(id, 0, &total);

    json_decref(o);
    return total;
}

/* Wait (up to ms) for the first final result of id. */
static json_t *wait_final(const char *id, int ms)
{
    long long until = now_ms() + ms;
    json_t *o;

    while ((o = final_of(id)) == NULL && now_ms() < until) {
        usleep(10000);
    }
    if (o == NULL) {
        fprintf(stderr, "  no final result for %s\n", id);
    }
    return o;
}

/* The first message of id is `running` with a started_at. */
static int first_is_running(const char *id)
{
    int ok = 0;

    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nmsgs; i++) {
        if (strcmp(msgs[i].id, id) == 0) {
            json_t *o = json_loads(msgs[i].json, 0, NULL);
            const char *st = json_string_value(json_object_get(o, "status"));
            ok = st != NULL && strcmp(st, "running") == 0 &&
                 json_is_string(json_object_get(o, "started_at")) &&
                 strcmp(json_string_value(json_object_get(o, "id")), id) == 0;
            json_decref(o);
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : "";
}

static long long int_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? json_integer_value(v) : -999;
}

/* ---- set-up ---- */

static struct gf_cmd *runner(long max_running, long output_max, int shell)
{
    struct gf_cmd_opts o = {allow_file, shell, max_running, output_max, state_dir};
    struct gf_cmd *c = NULL;
    struct gf_diag d;

    gf_diag_clear(&d);
    CHECK(gf_cmd_new(&o, &hooks, &c, &d) == GF_OK);
    if (c == NULL) {
        fprintf(stderr, "  gf_cmd_new: %s: %s\n", d.where, d.msg);
    }
    return c;
}

static enum gf_err submit(struct gf_cmd *c, const char *json, long expiry_ms)
{
    return gf_cmd_submit(c, json, strlen(json), expiry_ms);
}

static void setup(void)
{
    char text[4096];

    snprintf(state_dir, sizeof(state_dir), "%s/state", gf_test_root);
    path_in(allow_file, sizeof(allow_file), "commands.conf");
    write_text("ok.sh", "echo hello\necho oops >&2\nprintf '%s' \"$GATEFLEET_COMMAND_ID\"\n");
    write_text("fail.sh", "echo failing\nexit 3\n");
    write_text("big.sh", "i=0\nwhile [ $i -lt 400 ]; do echo "
                         "0123456789012345678901234567890123456789012345678; i=$((i+1)); done\n");
    write_text("binary.sh", "printf 'a\\377b\\000c\\303'\n");
    write_text("hang.sh", "sleep 1000 &\necho $! > \"$0.child\"\necho $$ > \"$0.pid\"\nwait\n");
    write_text("count.sh", "echo run >> \"$(dirname \"$0\")/count.marker\"\nsleep 0.3\n");
    write_text("slow.sh", "echo run >> \"$(dirname \"$0\")/slow.marker\"\n"
                          "echo $$ > \"$0.pid\"\nsleep 1000\n");
    snprintf(text, sizeof(text),
             "# test commands\n"
             "ok = /bin/sh %s/ok.sh\n"
             "fail = /bin/sh %s/fail.sh\n"
             "big = /bin/sh %s/big.sh\n"
             "binary = /bin/sh %s/binary.sh\n"
             "hang = /bin/sh %s/hang.sh\n"
             "count = /bin/sh %s/count.sh\n"
             "slow = /bin/sh %s/slow.sh\n"
             "echo = /bin/echo {word:[a-z]+}\n"
             "missing = /nonexistent/bin/x\n",
             gf_test_root, gf_test_root, gf_test_root, gf_test_root, gf_test_root, gf_test_root,
             gf_test_root);
    write_text("commands.conf", text);
}

/* ---- tests ---- */

static void test_success_failure(struct gf_cmd *c)
{
    json_t *f;

    CHECK(submit(c, "{\"id\":\"ok-1\",\"name\":\"ok\",\"timeout_ms\":5000}", -1) == GF_OK);
    f = wait_final("ok-1", 5000);
    CHECK(first_is_running("ok-1"));
    CHECK(count_msgs("ok-1") == 2);
    CHECK_STR(str_of(f, "status"), "succeeded");
    CHECK(int_of(f, "exit_code") == 0);
    CHECK(json_is_null(json_object_get(f, "signal")));
    CHECK(json_is_null(json_object_get(f, "error")));
    CHECK(json_is_false(json_object_get(f, "output_truncated")));
    CHECK(int_of(f, "duration_ms") >= 0 && int_of(f, "duration_ms") < 5000);
    CHECK(strstr(str_of(f, "output"), "hello\n") != NULL);
    CHECK(strstr(str_of(f, "output"), "oops\n") != NULL);
    CHECK(strstr(str_of(f, "output"), "ok-1") != NULL); /* GATEFLEET_COMMAND_ID */
    json_decref(f);

    CHECK(submit(c, "{\"id\":\"fail-1\",\"name\":\"fail\"}", -1) == GF_OK);
    f = wait_final("fail-1", 5000);
    CHECK_STR(str_of(f, "status"), "failed");
    CHECK(int_of(f, "exit_code") == 3);
    CHECK_STR(str_of(f, "error"), "exit status 3");
    CHECK_STR(str_of(f, "output"), "failing\n");
    json_decref(f);

    CHECK(submit(c, "{\"id\":\"missing-1\",\"name\":\"missing\"}", -1) == GF_OK);
    f = wait_final("missing-1", 5000);
    CHECK_STR(str_of(f, "status"), "failed");
    CHECK(strstr(str_of(f, "error"), "cannot execute /nonexistent/bin/x") != NULL);
    json_decref(f);

    CHECK(submit(c, "{\"id\":\"echo-1\",\"name\":\"echo\",\"args\":{\"word\":\"abc\"}}", -1) ==
          GF_OK);
    f = wait_final("echo-1", 5000);
    CHECK_STR(str_of(f, "output"), "abc\n");
    json_decref(f);
}

static void test_output(void)
{
    struct gf_cmd *c = runner(4, 1024, 0);
    json_t *f;

    if (c == NULL) {
        return;
    }
    CHECK(submit(c, "{\"id\":\"big-1\",\"name\":\"big\"}", -1) == GF_OK);
    f = wait_final("big-1", 10000);
    CHECK_STR(str_of(f, "status"), "succeeded");
    CHECK(strlen(str_of(f, "output")) == 1024);
    CHECK(strncmp(str_of(f, "output"), "0123456789", 10) == 0);
    CHECK(json_is_true(json_object_get(f, "output_truncated")));
    json_decref(f);

    /* invalid UTF-8 and NUL become U+FFFD; a cut sequence at the end too */
    CHECK(submit(c, "{\"id\":\"bin-1\",\"name\":\"binary\"}", -1) == GF_OK);
    f = wait_final("bin-1", 5000);
    CHECK_STR(str_of(f, "output"), "a\xEF\xBF\xBD"
                                   "b\xEF\xBF\xBD"
                                   "c\xEF\xBF\xBD");
    CHECK(json_is_false(json_object_get(f, "output_truncated")));
    json_decref(f);
    gf_cmd_free(c);
}

static void test_timeouts(struct gf_cmd *c)
{
    long long t0 = now_ms();
    json_t *f;
    long pid, child;

    CHECK(submit(c, "{\"id\":\"hang-1\",\"name\":\"hang\",\"timeout_ms\":400}", -1) == GF_OK);
    f = wait_final("hang-1", 8000);
    CHECK(now_ms() - t0 >= 400 && now_ms() - t0 < 5000);
    CHECK_STR(str_of(f, "status"), "timed_out");
    CHECK(strstr(str_of(f, "error"), "timeout_ms") != NULL);
    CHECK(strstr(str_of(f, "error"), "process group killed") != NULL);
    CHECK(json_is_null(json_object_get(f, "exit_code")));
    json_decref(f);
    pid = read_pid("hang.sh.pid");
    child = read_pid("hang.sh.child");
    CHECK(pid > 0 && gf_test_pid_gone(pid));
    CHECK(child > 0 && gf_test_pid_gone(child)); /* the grandchild: the whole group was killed */

    /* the message expiry is shorter than timeout_ms: it sets the deadline */
    t0 = now_ms();
    CHECK(submit(c, "{\"id\":\"hang-2\",\"name\":\"hang\",\"timeout_ms\":60000}", 300) == GF_OK);
    f = wait_final("hang-2", 8000);
    CHECK(now_ms() - t0 >= 300 && now_ms() - t0 < 5000);
    CHECK_STR(str_of(f, "status"), "timed_out");
    CHECK(strstr(str_of(f, "error"), "message expiry") != NULL);
    json_decref(f);
    child = read_pid("hang.sh.child");
    CHECK(child > 0 && gf_test_pid_gone(child));

    /* an already expired message does not start */
    CHECK(submit(c, "{\"id\":\"ok-exp\",\"name\":\"ok\"}", 0) == GF_ERR_TIMEOUT);
    f = final_of("ok-exp");
    CHECK_STR(str_of(f, "status"), "rejected");
    CHECK(count_msgs("ok-exp") == 1);
    json_decref(f);
}

static void test_busy(void)
{
    struct gf_cmd *c = runner(2, 16384, 0);
    json_t *f;

    if (c == NULL) {
        return;
    }
    CHECK(submit(c, "{\"id\":\"busy-1\",\"name\":\"hang\",\"timeout_ms\":1500}", -1) == GF_OK);
    CHECK(submit(c, "{\"id\":\"busy-2\",\"name\":\"hang\",\"timeout_ms\":1500}", -1) == GF_OK);
    CHECK(gf_cmd_running(c) == 2);
    CHECK(submit(c, "{\"id\":\"busy-3\",\"name\":\"ok\"}", -1) == GF_ERR_RATELIMIT);
    f = final_of("busy-3");
    CHECK_STR(str_of(f, "status"), "rejected");
    CHECK(strstr(str_of(f, "error"), "busy") != NULL);
    json_decref(f);
    /* the rejection is final for that id: a redelivery gets it again, even when idle */
    json_decref(wait_final("busy-1", 8000));
    json_decref(wait_final("busy-2", 8000));
    for (int i = 0; i < 100 && gf_cmd_running(c) != 0; i++) {
        usleep(10000);
    }
    CHECK(submit(c, "{\"id\":\"busy-3\",\"name\":\"ok\"}", -1) == GF_OK);
    f = nth_final("busy-3", 1, NULL);
    CHECK_STR(str_of(f, "status"), "rejected");
    json_decref(f);
    /* slots are reused once free */
    CHECK(submit(c, "{\"id\":\"busy-4\",\"name\":\"ok\"}", -1) == GF_OK);
    f = wait_final("busy-4", 5000);
    CHECK_STR(str_of(f, "status"), "succeeded");
    json_decref(f);
    gf_cmd_free(c);
}

static void expect_rejected(struct gf_cmd *c, const char *json, const char *id, enum gf_err want,
                            const char *error_part)
{
    size_t before;
    enum gf_err err;
    json_t *o = NULL;

    pthread_mutex_lock(&mu);
    before = nmsgs;
    pthread_mutex_unlock(&mu);
    err = submit(c, json, -1);

    CHECK(err == want);
    pthread_mutex_lock(&mu);
    CHECK(nmsgs == before + 1); /* exactly one answer, published before submit returned */
    if (nmsgs == before + 1) {
        o = json_loads(msgs[before].json, 0, NULL);
        CHECK_STR(msgs[before].id, id != NULL ? id : "(null)");
    }
    pthread_mutex_unlock(&mu);
    CHECK_STR(str_of(o, "status"), "rejected");
    CHECK(id != NULL ? strcmp(str_of(o, "id"), id) == 0 : json_is_null(json_object_get(o, "id")));
    CHECK(strstr(str_of(o, "error"), error_part) != NULL);
    if (err != want || strstr(str_of(o, "error"), error_part) == NULL) {
        fprintf(stderr, "  for %s: err=%d error=%s\n", json, err, str_of(o, "error"));
    }
    json_decref(o);
}

static void test_rejections(struct gf_cmd *c)
{
    char long_id[128];

    expect_rejected(c, "{\"id\":\"r-1\",\"name\":", NULL, GF_ERR_PARSE, "malformed JSON");
    expect_rejected(c, "[1]", NULL, GF_ERR_INVAL, "JSON object");
    expect_rejected(c, "{\"name\":\"ok\"}", NULL, GF_ERR_INVAL, "/id is required");
    snprintf(long_id, sizeof(long_id), "{\"id\":\"%065d\",\"name\":\"ok\"}", 1);
    expect_rejected(c, long_id, NULL, GF_ERR_INVAL, "/id");
    expect_rejected(c, "{\"id\":\"a b\",\"name\":\"ok\"}", NULL, GF_ERR_INVAL, "/id");
    expect_rejected(c, "{\"id\":\"r-2\",\"name\":\"nope\"}", "r-2", GF_ERR_NOTFOUND,
                    "unknown command nope");
    expect_rejected(c, "{\"id\":\"r-3\",\"name\":\"Bad Name\"}", "r-3", GF_ERR_INVAL, "/name");
    expect_rejected(c, "{\"id\":\"r-4\",\"name\":\"ok\",\"args\":[]}", "r-4", GF_ERR_INVAL,
                    "/args must be an object");
    expect_rejected(c, "{\"id\":\"r-5\",\"name\":\"ok\",\"timeout_ms\":0}", "r-5", GF_ERR_INVAL,
                    "/timeout_ms must be between 1 and 3600000");
    expect_rejected(c, "{\"id\":\"r-6\",\"name\":\"ok\",\"timeout_ms\":3600001}", "r-6",
                    GF_ERR_INVAL, "/timeout_ms");
    expect_rejected(c, "{\"id\":\"r-7\",\"name\":\"ok\",\"timeout_ms\":\"5\"}", "r-7", GF_ERR_INVAL,
                    "/timeout_ms must be an integer");
    expect_rejected(c, "{\"id\":\"r-8\",\"name\":\"ok\",\"extra\":1}", "r-8", GF_ERR_INVAL,
                    "unknown field /extra");
    expect_rejected(c, "{\"id\":\"r-9\",\"name\":\"ok\",\"args\":{\"x\":\"1\"}}", "r-9",
                    GF_ERR_INVAL, "undeclared argument x");
    expect_rejected(c, "{\"id\":\"r-10\",\"name\":\"echo\"}", "r-10", GF_ERR_INVAL,
                    "missing argument word");
    expect_rejected(c, "{\"id\":\"r-11\",\"name\":\"echo\",\"args\":{\"word\":\"a;touch x\"}}",
                    "r-11", GF_ERR_INVAL, "argument word does not match");
    expect_rejected(c, "{\"id\":\"r-12\",\"name\":\"echo\",\"args\":{\"word\":\"$(id)\"}}", "r-12",
                    GF_ERR_INVAL, "does not match");
    expect_rejected(c, "{\"id\":\"r-13\",\"name\":\"shell\",\"args\":{\"cmdline\":\"id\"}}", "r-13",
                    GF_ERR_NOTFOUND, "unknown command shell");
    expect_rejected(c, "{\"id\":\"r-14\",\"name\":\"ping\",\"args\":{\"x\":1}}", "r-14",
                    GF_ERR_INVAL, "unknown field /args/x");
    expect_rejected(c, "{\"id\":\"r-15\",\"name\":\"logs.tail\",\"args\":{\"lines\":5}}", "r-15",
                    GF_ERR_INVAL, "either path or unit");
    expect_rejected(c,
                    "{\"id\":\"r-16\",\"name\":\"logs.tail\",\"args\":{\"path\":\"/a\","
                    "\"unit\":\"b\"}}",
                    "r-16", GF_ERR_INVAL, "either path or unit");
    expect_rejected(c,
                    "{\"id\":\"r-17\",\"name\":\"logs.tail\",\"args\":{\"path\":\"/a\","
                    "\"lines\":1001}}",
                    "r-17", GF_ERR_INVAL, "/args/lines");
    expect_rejected(c, "{\"id\":\"r-18\",\"name\":\"logs.tail\",\"args\":{\"path\":\"rel\"}}",
                    "r-18", GF_ERR_INVAL, "absolute");
    expect_rejected(c, "{\"id\":\"r-19\",\"name\":\"logs.tail\",\"args\":{\"unit\":\"a;b\"}}",
                    "r-19", GF_ERR_INVAL, "/args/unit");
    /* a rejected id is answered the same way again */
    expect_rejected(c, "{\"id\":\"r-2\",\"name\":\"nope\"}", "r-2", GF_OK, "unknown command nope");
    CHECK(gf_cmd_running(c) == 0);
}

static void test_duplicates(struct gf_cmd *c)
{
    const char *req = "{\"id\":\"dup-1\",\"name\":\"count\",\"timeout_ms\":5000}";
    char *first = NULL, *again = NULL;
    json_t *f;

    CHECK(submit(c, req, -1) == GF_OK);
    CHECK(submit(c, req, -1) == GF_OK); /* while it runs: ignored */
    f = wait_final("dup-1", 5000);
    CHECK_STR(str_of(f, "status"), "succeeded");
    json_decref(f);
    CHECK(count_msgs("dup-1") == 2);
    CHECK(submit(c, req, -1) == GF_OK); /* finished: the same result again */
    CHECK(count_msgs("dup-1") == 3);
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nmsgs; i++) {
        if (strcmp(msgs[i].id, "dup-1") == 0 && strstr(msgs[i].json, "running") == NULL) {
            if (first == NULL) {
                first = msgs[i].json;
            } else {
                again = msgs[i].json;
            }
        }
    }
    CHECK(first != NULL && again != NULL && strcmp(first, again) == 0);
    pthread_mutex_unlock(&mu);
    usleep(400000);
    CHECK(count_lines("count.marker") == 1);
}

/* A new runner on the same state_dir, as after an agent restart. */
static void test_restart(void)
{
    const char *req = "{\"id\":\"dup-1\",\"name\":\"count\",\"timeout_ms\":5000}";
    struct gf_cmd *c = runner(4, 16384, 0);
    json_t *f;

    if (c == NULL) {
        return;
    }
    CHECK(submit(c, req, -1) == GF_OK);
    f = nth_final("dup-1", 2, NULL); /* the third final answer for dup-1 */
    CHECK_STR(str_of(f, "status"), "succeeded");
    CHECK(int_of(f, "exit_code") == 0);
    json_decref(f);
    usleep(400000);
    CHECK(count_lines("count.marker") == 1);
    CHECK(gf_cmd_running(c) == 0);
    /* a rejection survives too */
    CHECK(submit(c, "{\"id\":\"r-2\",\"name\":\"ok\"}", -1) == GF_OK);
    f = nth_final("r-2", 2, NULL);
    CHECK_STR(str_of(f, "status"), "rejected");
    CHECK(strstr(str_of(f, "error"), "unknown command nope") != NULL);
    json_decref(f);
    gf_cmd_free(c);
}

/* The agent dies while a command runs: on redelivery it is failed, not run again. */
static void test_crash(void)
{
    const char *req = "{\"id\":\"crash-1\",\"name\":\"slow\",\"timeout_ms\":60000}";
    struct gf_cmd *c;
    json_t *f;
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        c = runner(4, 16384, 0);
        if (c != NULL && submit(c, req, -1) == GF_OK) {
            wait_file("slow.sh.pid", 5000);
        }
        _exit(0); /* no stop, no free: a crash */
    }
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    long slow = read_pid("slow.sh.pid");
    CHECK(slow > 0);
    if (slow > 0) {
        kill(-(pid_t)slow, SIGKILL); /* its process group outlived the agent */
        CHECK(gf_test_pid_gone(slow));
    }
    CHECK(count_lines("slow.marker") == 1);
    c = runner(4, 16384, 0);
    if (c == NULL) {
        return;
    }
    CHECK(submit(c, req, -1) == GF_OK);
    f = final_of("crash-1");
    CHECK_STR(str_of(f, "status"), "failed");
    CHECK_STR(str_of(f, "error"), "agent restarted while running");
    json_decref(f);
    usleep(300000);
    CHECK(count_lines("slow.marker") == 1);
    CHECK(gf_cmd_running(c) == 0);
    gf_cmd_free(c);
}

static void test_shell(void)
{
    struct gf_cmd *c = runner(4, 16384, 1);
    json_t *f;

    if (c == NULL) {
        return;
    }
    CHECK(submit(c,
                 "{\"id\":\"sh-1\",\"name\":\"shell\",\"args\":{\"cmdline\":\"echo hi; exit 4\"}}",
                 -1) == GF_OK);
    f = wait_final("sh-1", 5000);
    CHECK(first_is_running("sh-1"));
    CHECK_STR(str_of(f, "status"), "failed");
    CHECK(int_of(f, "exit_code") == 4);
    CHECK_STR(str_of(f, "output"), "hi\n");
    json_decref(f);
    expect_rejected(c, "{\"id\":\"sh-2\",\"name\":\"shell\"}", "sh-2", GF_ERR_INVAL,
                    "/args/cmdline is required");
    gf_cmd_free(c);
}

static json_t *run_builtin(struct gf_cmd *c, const char *id, const char *json)
{
    json_t *f;

    CHECK(submit(c, json, -1) == GF_OK);
    f = wait_final(id, 5000);
    CHECK(first_is_running(id));
    CHECK(count_msgs(id) == 2);
    return f;
}

static void test_builtins(struct gf_cmd *c)
{
    json_t *f, *r;

    f = run_builtin(c, "b-ping", "{\"id\":\"b-ping\",\"name\":\"ping\"}");
    r = json_object_get(f, "result");
    CHECK_STR(str_of(f, "status"), "succeeded");
    CHECK(json_is_true(json_object_get(r, "pong")));
    CHECK(json_is_string(json_object_get(r, "agent_version")));
    CHECK(int_of(r, "uptime_s") >= 0);
    json_decref(f);

    f = run_builtin(c, "b-health", "{\"id\":\"b-health\",\"name\":\"health.now\",\"args\":{}}");
    CHECK(calls_health == 1);
    CHECK(int_of(json_object_get(f, "result"), "cpu_pct") == 7);
    CHECK_STR(str_of(f, "status"), "succeeded");
    json_decref(f);

    f = run_builtin(c, "b-inv", "{\"id\":\"b-inv\",\"name\":\"inventory.refresh\"}");
    CHECK(calls_inventory == 1);
    CHECK_STR(str_of(json_object_get(f, "result"), "hostname"), "station-7");
    json_decref(f);

    f = run_builtin(c, "b-bundle", "{\"id\":\"b-bundle\",\"name\":\"bundle.status\"}");
    CHECK(calls_bundle == 1);
    CHECK(int_of(json_object_get(f, "result"), "version") == 3);
    json_decref(f);

    f = run_builtin(
        c, "b-logs",
        "{\"id\":\"b-logs\",\"name\":\"logs.tail\",\"args\":{\"path\":\"/var/log/x\"}}");
    CHECK(calls_logs == 1);
    CHECK_STR(str_of(logs_args_seen, "path"), "/var/log/x");
    CHECK(int_of(logs_args_seen, "lines") == 100); /* the default, made explicit */
    CHECK(json_array_size(json_object_get(json_object_get(f, "result"), "lines")) == 1);
    json_decref(f);
    f = run_builtin(c, "b-logs2",
                    "{\"id\":\"b-logs2\",\"name\":\"logs.tail\",\"args\":{\"unit\":"
                    "\"neuronex.service\",\"lines\":5}}");
    CHECK(calls_logs == 2);
    CHECK_STR(str_of(logs_args_seen, "unit"), "neuronex.service");
    CHECK(int_of(logs_args_seen, "lines") == 5);
    json_decref(f);

    /* a hook error fails the command with its reason */
    fail_health = 1;
    f = run_builtin(c, "b-health2", "{\"id\":\"b-health2\",\"name\":\"health.now\"}");
    CHECK_STR(str_of(f, "status"), "failed");
    CHECK(strlen(str_of(f, "error")) > 0);
    CHECK(calls_health == 2);
    json_decref(f);
    fail_health = 0;

    /* agent.restart: recorded and published before the restart hook */
    snprintf(restart_id, sizeof(restart_id), "b-restart");
    f = run_builtin(c, "b-restart", "{\"id\":\"b-restart\",\"name\":\"agent.restart\"}");
    CHECK_STR(str_of(f, "status"), "succeeded");
    json_decref(f);
    for (int i = 0; i < 100 && calls_restart == 0; i++) {
        usleep(10000);
    }
    CHECK(calls_restart == 1 && restart_saw_final);
}

/* After the restart the redelivered agent.restart does not restart again. */
static void test_restart_not_looping(void)
{
    struct gf_cmd *c = runner(4, 16384, 0);
    json_t *f;

    if (c == NULL) {
        return;
    }
    CHECK(submit(c, "{\"id\":\"b-restart\",\"name\":\"agent.restart\"}", -1) == GF_OK);
    f = nth_final("b-restart", 1, NULL);
    CHECK_STR(str_of(f, "status"), "succeeded");
    json_decref(f);
    usleep(100000);
    CHECK(calls_restart == 1);
    gf_cmd_free(c);
}

static void test_stop(void)
{
    struct gf_cmd *c = runner(4, 16384, 0);
    long long t0;
    json_t *f;
    long child;

    if (c == NULL) {
        return;
    }
    CHECK(submit(c, "{\"id\":\"stop-1\",\"name\":\"hang\",\"timeout_ms\":60000}", -1) == GF_OK);
    for (int i = 0; i < 500 && count_msgs("stop-1") == 0; i++) {
        usleep(10000);
    }
    usleep(200000);
    t0 = now_ms();
    gf_cmd_stop(c);
    CHECK(now_ms() - t0 < 4000);
    f = final_of("stop-1");
    CHECK_STR(str_of(f, "status"), "failed");
    CHECK(strstr(str_of(f, "error"), "agent stopping") != NULL);
    json_decref(f);
    child = read_pid("hang.sh.child");
    CHECK(child > 0 && gf_test_pid_gone(child));
    CHECK(submit(c, "{\"id\":\"stop-2\",\"name\":\"ok\"}", -1) == GF_ERR_UNAVAILABLE);
    CHECK(count_msgs("stop-2") == 0);
    gf_cmd_stop(c); /* idempotent */
    gf_cmd_free(c);
}

static void test_bad_opts(void)
{
    struct gf_cmd_opts o = {allow_file, 0, 0, 16384, state_dir};
    struct gf_cmd_hooks h = hooks;
    struct gf_cmd *c = NULL;
    struct gf_diag d;
    char bad[600];

    CHECK(gf_cmd_new(&o, &hooks, &c, &d) == GF_ERR_INVAL && c == NULL);
    o.max_running = 4;
    o.output_max = 100;
    CHECK(gf_cmd_new(&o, &hooks, &c, &d) == GF_ERR_INVAL && c == NULL);
    o.output_max = 16384;
    h.publish = NULL;
    CHECK(gf_cmd_new(&o, &h, &c, &d) == GF_ERR_INVAL && c == NULL);
    o.allow_file = "/nonexistent/commands.conf";
    CHECK(gf_cmd_new(&o, &hooks, &c, &d) == GF_ERR_NOTFOUND && c == NULL);
    /* a damaged commands.seen stops the runner rather than forgetting ids */
    snprintf(bad, sizeof(bad), "%s/badstate", gf_test_root);
    CHECK(mkdir(bad, 0700) == 0);
    write_text("badstate/commands.seen", "{\"version\":1,\"commands\":[{\"id\":\"x\"}]}");
    o.allow_file = NULL;
    o.state_dir = bad;
    CHECK(gf_cmd_new(&o, &hooks, &c, &d) == GF_ERR_PARSE && c == NULL);
    CHECK(strstr(d.where, "commands.seen") != NULL);
}

int main(void)
{
    struct gf_cmd *c;

    if (gf_test_mkroot("/tmp/gf_cmd_run_XXXXXX") != 0) {
        return 1;
    }
    setup();
    c = runner(4, 16384, 0);
    if (c != NULL) {
        test_success_failure(c);
        test_timeouts(c);
        test_rejections(c);
        test_duplicates(c);
        test_builtins(c);
        gf_cmd_free(c);
    }
    test_output();
    test_busy();
    test_restart();
    test_restart_not_looping();
    test_crash();
    test_shell();
    test_stop();
    test_bad_opts();
    CHECK(!atomic_load(&bad_len));
    CHECK(!atomic_load(&bad_final));
    clear_msgs();
    json_decref(logs_args_seen);
    gf_test_rmroot();
    return gf_test_summary("test_cmd_run");
}
