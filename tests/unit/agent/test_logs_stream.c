/* SPDX-License-Identifier: Apache-2.0
 *
 * test_logs_stream.c - log streams as a whole (agent/logs/logs.h): requests refused by the
 * allowlist (outside, relative, "..", a symlink leaving the set, a directory, /dev/zero, a
 * missing file, bad units and fields, duplicate ids, too many streams), bad settings and
 * the agent's log_* settings (defaults, bounds); a stream ending at its max duration; a
 * publish hook refusing chunks for 2 s while the file grows, after which every line arrives
 * exactly once and in order; falling more than behind_max behind during such an outage
 * (skipped lines counted exactly as dropped); the rate limit in lines
 * and in bytes measured over 1.5 s; gf_logs_free ending running streams; journal streams
 * through a fake journalctl script (by path and from PATH), its exit status and stderr in
 * the end reason, and its process group killed at stop.
 */
#include "config.h"
#include "logs_test.h"

#include <signal.h>

static char dir[512];

struct mk_opts {
    const char *files, *units, *journalctl;
    long rate_lines, rate_bytes, streams_max;
    uint64_t behind_max;
};

static struct gf_logs *mk(struct collect *c, const struct mk_opts *m)
{
    struct gf_logs_opts o;

    memset(&o, 0, sizeof(o));
    o.files = m->files;
    o.units = m->units;
    o.journalctl = m->journalctl;
    o.rate_lines = m->rate_lines > 0 ? m->rate_lines : 50000;
    o.rate_bytes = m->rate_bytes > 0 ? m->rate_bytes : 4L * 1024 * 1024;
    o.streams_max = m->streams_max > 0 ? m->streams_max : 4;
    o.behind_max = m->behind_max;
    return t_logs_new(c, &o);
}

static void sub(char *p, size_t cap, const char *name)
{
    snprintf(p, cap, "%s/%s", dir, name);
}

static enum gf_err try_path(struct gf_logs *ls, const char *id, const char *path, struct gf_diag *d)
{
    struct gf_logs_req r = t_req(id, path, 0, 1);

    gf_diag_clear(d);
    return gf_logs_start(ls, &r, d);
}

static enum gf_err try_unit(struct gf_logs *ls, const char *unit, struct gf_diag *d)
{
    struct gf_logs_req r = t_req("u", NULL, 0, 0);

    r.unit = unit;
    gf_diag_clear(d);
    return gf_logs_start(ls, &r, d);
}

static void test_settings(void)
{
    struct gf_logs_opts o;
    struct gf_logs *ls = NULL;
    struct gf_diag d;

    memset(&o, 0, sizeof(o));
    o.rate_lines = o.rate_bytes = 1000;
    o.streams_max = 4;
    o.publish = collect_publish;
    o.files = "/var/log/*.log, relative/*.log";
    CHECK(gf_logs_new(&o, &ls, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "log_files");
    o.files = "/var/log/../etc/*";
    CHECK(gf_logs_new(&o, &ls, &d) == GF_ERR_CONFIG);
    o.files = " /var/log/syslog , ,/var/log/*.log ";
    o.units = "ok.service, bad unit";
    CHECK(gf_logs_new(&o, &ls, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "log_units");
    o.units = NULL;
    o.streams_max = 0;
    CHECK(gf_logs_new(&o, &ls, &d) == GF_ERR_CONFIG);
    o.streams_max = 4;
    CHECK(gf_logs_new(&o, &ls, &d) == GF_OK);
    gf_logs_free(ls);
}

/* The agent's settings (agent/config.c): defaults, bounds, and a handle made from them. */
static void test_config(void)
{
    struct gf_agent_config cfg;
    struct gf_logs_opts o;
    struct gf_logs *ls = NULL;
    struct gf_diag d;
    int argi = 1, print = 0;
    char *a1[] = {"gfa",         "--log_files", "/var/log/*.log, /var/log/syslog",
                  "--log_units", "app.service", NULL};
    char *a2[] = {"gfa", "--log_rate_bytes", "512", NULL};

    memset(&cfg, 0, sizeof(cfg));
    CHECK(gf_agent_config_load(&cfg, 5, a1, &argi, &print, &d) == GF_OK);
    CHECK(cfg.log_rate_lines == 50000 && cfg.log_rate_bytes == 4194304 && cfg.log_streams_max == 4);
    CHECK_STR(cfg.log_files, "/var/log/*.log, /var/log/syslog");
    memset(&o, 0, sizeof(o));
    o.files = cfg.log_files;
    o.units = cfg.log_units;
    o.rate_lines = cfg.log_rate_lines;
    o.rate_bytes = cfg.log_rate_bytes;
    o.streams_max = cfg.log_streams_max;
    o.publish = collect_publish;
    CHECK(gf_logs_new(&o, &ls, &d) == GF_OK);
    gf_logs_free(ls);
    gf_agent_config_free(&cfg);

    memset(&cfg, 0, sizeof(cfg));
    argi = 1;
    CHECK(gf_agent_config_load(&cfg, 3, a2, &argi, &print, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "log_rate_bytes");
    gf_agent_config_free(&cfg);
    memset(&cfg, 0, sizeof(cfg));
    argi = 1;
    CHECK(gf_agent_config_load(&cfg, 1, a2, &argi, &print, &d) == GF_OK);
    CHECK(cfg.log_files == NULL && cfg.log_units == NULL);
    gf_agent_config_free(&cfg);
}

static void test_allowlist(void)
{
    struct collect c;
    struct gf_logs *ls;
    struct gf_diag d;
    struct gf_logs_req r;
    char files[1200], logs[600], app[700], p[700], secret[700];
    char longunit[140];
    struct mk_opts m = {files, "app.service,db@1.service", NULL, 0, 0, 2, 0};

    sub(logs, sizeof(logs), "logs");
    mkdir(logs, 0755);
    snprintf(app, sizeof(app), "%s/app.log", logs);
    t_puts(app, O_TRUNC, "hello\n");
    sub(secret, sizeof(secret), "secret.txt");
    t_puts(secret, O_TRUNC, "s3cret\n");
    snprintf(p, sizeof(p), "%s/evil.log", logs);
    CHECK(symlink(secret, p) == 0);
    snprintf(p, sizeof(p), "%s/alias.log", logs);
    CHECK(symlink(app, p) == 0);
    snprintf(p, sizeof(p), "%s/dir.log", logs);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/sub", logs);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/sub/x.log", logs);
    t_puts(p, O_TRUNC, "x\n");
    snprintf(files, sizeof(files), "%s/*.log, /dev/zero", logs);
    ls = mk(&c, &m);

    CHECK(try_path(ls, "a", "/etc/passwd", &d) == GF_ERR_PERM);
    CHECK_STR(d.where, "/path");
    CHECK(try_path(ls, "a", "logs/app.log", &d) == GF_ERR_INVAL);
    snprintf(p, sizeof(p), "%s/../logs/app.log", logs);
    CHECK(try_path(ls, "a", p, &d) == GF_ERR_INVAL);
    CHECK(strstr(d.msg, "..") != NULL);
    snprintf(p, sizeof(p), "%s/evil.log", logs);
    CHECK(try_path(ls, "a", p, &d) == GF_ERR_PERM);
    CHECK(strstr(d.msg, "resolves to") != NULL);
    snprintf(p, sizeof(p), "%s/dir.log", logs);
    CHECK(try_path(ls, "a", p, &d) == GF_ERR_INVAL);
    CHECK(strstr(d.msg, "regular") != NULL);
    CHECK(try_path(ls, "a", "/dev/zero", &d) == GF_ERR_INVAL);
    snprintf(p, sizeof(p), "%s/missing.log", logs);
    CHECK(try_path(ls, "a", p, &d) == GF_ERR_NOTFOUND);
    snprintf(p, sizeof(p), "%s/sub/x.log", logs); /* "*" does not cross "/" */
    CHECK(try_path(ls, "a", p, &d) == GF_ERR_PERM);

    CHECK(try_unit(ls, "other.service", &d) == GF_ERR_PERM);
    CHECK_STR(d.where, "/unit");
    CHECK(try_unit(ls, "app.service;reboot", &d) == GF_ERR_INVAL);
    CHECK(try_unit(ls, "-f", &d) == GF_ERR_INVAL);
    memset(longunit, 'a', 129);
    longunit[129] = '\0';
    CHECK(try_unit(ls, longunit, &d) == GF_ERR_INVAL);

    r = t_req("a/b", app, 0, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/stream_id");
    r = t_req("", app, 0, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    r = t_req("both", app, 0, 1);
    r.unit = "app.service";
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    r = t_req("neither", NULL, 0, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    r = t_req("past", app, 10001, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/past_lines");
    r = t_req("past", app, -1, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    r = t_req("dur", app, 0, 1);
    r.max_duration_ms = 999;
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/max_duration_ms");
    r.max_duration_ms = 24L * 3600 * 1000 + 1;
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);

    /* allowed: a symlink inside the set; then duplicates and the stream cap */
    snprintf(p, sizeof(p), "%s/alias.log", logs);
    CHECK(try_path(ls, "dup", p, &d) == GF_OK);
    CHECK(try_path(ls, "dup", app, &d) == GF_ERR_EXISTS);
    CHECK(try_path(ls, "two", app, &d) == GF_OK);
    CHECK(try_path(ls, "three", app, &d) == GF_ERR_RATELIMIT);
    CHECK(gf_logs_stop(ls, "nope") == GF_ERR_NOTFOUND);
    CHECK(gf_logs_stop(ls, "dup") == GF_OK);
    CHECK(gf_logs_stop(ls, "two") == GF_OK);
    {
        struct summary s;
        CHECK(wait_end(&c, "dup", 5000, &s));
        CHECK_STR(s.reason, "stopped");
        summary_free(&s);
        CHECK(wait_end(&c, "two", 5000, &s));
        summary_free(&s);
    }
    t_sleep_ms(200);
    CHECK(try_path(ls, "three", app, &d) == GF_OK); /* slots are free again */
    gf_logs_free(ls);
    collect_free(&c);
}

static void test_max_duration(void)
{
    struct collect c;
    char files[700], p[700];
    struct mk_opts m = {files, NULL, NULL, 0, 0, 0, 0};
    struct gf_logs *ls;
    struct gf_logs_req r;
    struct gf_logs_stats st;
    struct summary s;
    struct gf_diag d;
    int64_t t0, t1;

    sub(p, sizeof(p), "dur.log");
    snprintf(files, sizeof(files), "%s", p);
    t_puts(p, O_TRUNC, "one\n");
    ls = mk(&c, &m);
    r = t_req("dur", p, 1, 1);
    r.max_duration_ms = 1000;
    t0 = t_now_ms();
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_end(&c, "dur", 5000, &s));
    t1 = t_now_ms();
    CHECK(t1 - t0 >= 1000 && t1 - t0 < 2000);
    CHECK_STR(s.reason, "max_duration");
    CHECK(json_array_size(s.lines) == 1 && s.seq_ok);
    summary_free(&s);
    t_sleep_ms(200);
    gf_logs_stats(ls, &st);
    CHECK(st.running == 0 && st.started == 1 && st.lines == 1);

    /* gf_logs_free ends a running stream with "stopped" */
    r = t_req("live", p, 1, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    t_sleep_ms(100);
    gf_logs_free(ls);
    summarize(&c, "live", &s);
    CHECK(s.ended && s.seq_ok);
    CHECK_STR(s.reason, "stopped");
    summary_free(&s);
    collect_free(&c);
}

static void test_backpressure(void)
{
    struct collect c;
    char files[700], p[700];
    struct mk_opts m = {files, NULL, NULL, 0, 0, 0, 0};
    struct gf_logs *ls;
    struct gf_logs_req r;
    struct gf_logs_stats st;
    struct summary s;
    struct gf_diag d;
    long refused;

    sub(p, sizeof(p), "bp.log");
    snprintf(files, sizeof(files), "%s", p);
    t_puts(p, O_TRUNC, "");
    t_lines(p, "bp ", 0, 100);
    ls = mk(&c, &m);
    r = t_req("bp", p, 100, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_lines(&c, "bp", 100, 5000, &s));
    summary_free(&s);

    collect_set_unavailable(&c, 1); /* broker gone for 2 s while the file grows */
    for (int b = 0; b < 100; b++) {
        t_lines(p, "bp ", 100 + b * 10, 110 + b * 10);
        t_sleep_ms(20);
    }
    summarize(&c, "bp", &s);
    CHECK(json_array_size(s.lines) == 100);
    summary_free(&s);
    pthread_mutex_lock(&c.mu);
    refused = c.refused;
    pthread_mutex_unlock(&c.mu);
    CHECK(refused >= 5); /* offered again about every 100 ms */
    collect_set_unavailable(&c, 0);
    gf_logs_kick(ls);

    CHECK(wait_lines(&c, "bp", 1100, 10000, &s));
    summary_free(&s);
    t_sleep_ms(300);
    summarize(&c, "bp", &s);
    CHECK(json_array_size(s.lines) == 1100 && t_expect(&s, 0, "bp ", 0, 1100));
    CHECK(s.seq_ok && s.dropped == 0 && c.invalid == 0);
    summary_free(&s);
    gf_logs_stats(ls, &st);
    CHECK(st.lines == 1100 && st.dropped == 0 && st.running == 1);
    gf_logs_free(ls);
    collect_free(&c);
}

/* Paused (broker down) while 256 KB are written, more than behind_max = 64 KiB: on resuming
 * the reader skips to 32 KiB before the end; the skipped lines are reported as dropped, and
 * shipped + dropped is every line written. */
static void test_behind(void)
{
    struct collect c;
    char files[700], p[700];
    struct mk_opts m = {files, NULL, NULL, 0, 0, 0, 64u * 1024u};
    struct gf_logs *ls;
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    size_t n;
    long last = -1, ordered = 1;

    sub(p, sizeof(p), "behind.log");
    snprintf(files, sizeof(files), "%s", p);
    t_puts(p, O_TRUNC, "");
    t_lines(p, "behind-line-padded-to-about-fifty-bytes-", 0, 10);
    ls = mk(&c, &m);
    r = t_req("bh", p, 10, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_lines(&c, "bh", 10, 5000, &s));
    summary_free(&s);
    collect_set_unavailable(&c, 1);
    t_sleep_ms(150);
    t_lines(p, "behind-line-padded-to-about-fifty-bytes-", 10, 5010);
    t_sleep_ms(300);
    collect_set_unavailable(&c, 0);
    gf_logs_kick(ls);
    for (int64_t until = t_now_ms() + 5000; t_now_ms() < until; t_sleep_ms(20)) {
        summarize(&c, "bh", &s);
        n = json_array_size(s.lines);
        if (n + s.dropped >= 5010) {
            break;
        }
        summary_free(&s);
    }
    n = json_array_size(s.lines);
    CHECK(n + s.dropped == 5010);
    CHECK(s.dropped > 3000 && s.dropped < 5000 && s.seq_ok);
    for (size_t i = 0; i < n; i++) {
        long v = strtol(line_at(&s, i) + 40, NULL, 10);
        ordered &= v > last;
        last = v;
    }
    CHECK(ordered && last == 5009);
    summary_free(&s);
    gf_logs_free(ls);
    collect_free(&c);
}

static size_t lines_now(struct collect *c, const char *id)
{
    struct summary s;
    size_t n;

    summarize(c, id, &s);
    n = json_array_size(s.lines);
    summary_free(&s);
    return n;
}

/* Lines per second of stream id between 0.5 s and 2 s after its start. The callers check the
 * limit strictly from above (never faster) and loosely from below (not stalled): on a loaded
 * machine the logs thread may get less than its share of the CPU, never more. */
static double measure(struct gf_logs *ls, struct collect *c, const char *path, const char *id)
{
    struct gf_logs_req r = t_req(id, path, 5000, 0);
    struct gf_diag d;
    int64_t t0 = t_now_ms();
    size_t n1, n2;

    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    t_sleep_ms(500);
    n1 = lines_now(c, id);
    t_sleep_ms((long)(t0 + 2000 - t_now_ms()));
    n2 = lines_now(c, id);
    CHECK(gf_logs_stop(ls, id) == GF_OK);
    return (double)(n2 - n1) / 1.5;
}

static void test_rate(void)
{
    struct collect c;
    char files[700], p[700], line[128];
    struct mk_opts m = {files, NULL, NULL, 1000, 0, 0, 0};
    struct gf_logs *ls;
    double rate;

    sub(p, sizeof(p), "rate.log");
    snprintf(files, sizeof(files), "%s", p);
    t_puts(p, O_TRUNC, "");
    t_lines(p, "rate ", 0, 5000);
    ls = mk(&c, &m);
    rate = measure(ls, &c, p, "rl");
    printf("rate limit 1000 lines/s: measured %.0f lines/s\n", rate);
    CHECK(rate >= 500 && rate <= 1250);
    gf_logs_free(ls);
    collect_free(&c);

    /* 20000 bytes/s of 99-byte lines: about 200 lines/s */
    t_puts(p, O_TRUNC, "");
    memset(line, 'b', 98);
    line[98] = '\n';
    for (int i = 0; i < 3000; i++) {
        t_write(p, O_APPEND, line, 99);
    }
    m.rate_lines = 0;
    m.rate_bytes = 20000;
    ls = mk(&c, &m);
    rate = measure(ls, &c, p, "rb");
    printf("rate limit 20000 bytes/s (98-byte lines): measured %.0f lines/s\n", rate);
    CHECK(rate >= 100 && rate <= 250);
    gf_logs_free(ls);
    collect_free(&c);
}

/* 1 if pid is gone or a zombie (not running any more). */
static int dead(long pid)
{
    char path[64], buf[512];
    FILE *f;
    char *rp;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 1;
    }
    buf[0] = '\0';
    if (fgets(buf, sizeof(buf), f) == NULL) {
        buf[0] = '\0';
    }
    fclose(f);
    rp = strrchr(buf, ')');
    return rp == NULL || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

static void test_journal(void)
{
    struct collect c;
    char script[700], pids[700], text[2048], jpath[700];
    struct mk_opts m = {NULL, "app.service,broken.service", script, 0, 0, 0, 0};
    struct gf_logs *ls;
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    long pid1 = 0, pid2 = 0;
    int64_t until;

    sub(script, sizeof(script), "journalctl");
    sub(pids, sizeof(pids), "pids");
    snprintf(text, sizeof(text),
             "#!/bin/sh\n"
             "echo \"args: $*\"\n"
             "for i in 1 2 3; do echo \"journal line $i\"; done\n"
             "case \"$*\" in *\" -f\"*) sleep 1000 & echo \"$$ $!\" > %s; wait; exit 0;; esac\n"
             "if [ \"$2\" = broken.service ]; then echo 'boom: no such unit' >&2; exit 3; fi\n"
             "exit 0\n",
             pids);
    t_puts(script, O_TRUNC, text);
    chmod(script, 0755);
    ls = mk(&c, &m);

    r = t_req("j1", NULL, 5, 0);
    r.unit = "app.service";
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_end(&c, "j1", 5000, &s));
    CHECK(json_array_size(s.lines) == 4);
    CHECK_STR(line_at(&s, 0), "args: -u app.service -n 5 -o cat --no-pager");
    CHECK_STR(line_at(&s, 3), "journal line 3");
    CHECK_STR(s.reason, "done");
    summary_free(&s);

    r = t_req("j2", NULL, 0, 0);
    r.unit = "broken.service";
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_end(&c, "j2", 5000, &s));
    CHECK(json_array_size(s.lines) == 4);
    CHECK_STR(s.reason, "error: journalctl exited with status 3: boom: no such unit");
    summary_free(&s);

    r = t_req("j3", NULL, 10, 1);
    r.unit = "app.service";
    r.filter = "line";
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_lines(&c, "j3", 3, 5000, &s));
    CHECK(json_array_size(s.lines) == 3 && !s.ended);
    summary_free(&s);
    until = t_now_ms() + 3000;
    while (pid2 == 0 && t_now_ms() < until) {
        FILE *f = fopen(pids, "r");
        if (f != NULL) {
            if (fscanf(f, "%ld %ld", &pid1, &pid2) != 2) {
                pid2 = 0;
            }
            fclose(f);
        }
        t_sleep_ms(20);
    }
    CHECK(pid1 > 0 && pid2 > 0 && !dead(pid1) && !dead(pid2));
    CHECK(gf_logs_stop(ls, "j3") == GF_OK);
    CHECK(wait_end(&c, "j3", 5000, &s));
    CHECK_STR(s.reason, "stopped");
    summary_free(&s);
    until = t_now_ms() + 3000;
    while ((!dead(pid1) || !dead(pid2)) && t_now_ms() < until) {
        t_sleep_ms(20);
    }
    CHECK(dead(pid1) && dead(pid2)); /* the whole process group */
    gf_logs_free(ls);
    collect_free(&c);

    /* journalctl that cannot be started; then found through PATH */
    sub(jpath, sizeof(jpath), "nonexistent/journalctl");
    m.journalctl = jpath;
    ls = mk(&c, &m);
    r = t_req("j4", NULL, 0, 0);
    r.unit = "app.service";
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_NOTFOUND);
    gf_logs_free(ls);
    collect_free(&c);

    snprintf(text, sizeof(text), "%s:%s", dir, getenv("PATH") != NULL ? getenv("PATH") : "");
    setenv("PATH", text, 1);
    m.journalctl = NULL;
    ls = mk(&c, &m);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_end(&c, "j4", 5000, &s));
    CHECK_STR(line_at(&s, 0), "args: -u app.service -n 0 -o cat --no-pager");
    CHECK_STR(s.reason, "done");
    summary_free(&s);
    gf_logs_free(ls);
    collect_free(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    t_mkdtemp(dir, sizeof(dir));
    test_settings();
    test_config();
    test_allowlist();
    test_max_duration();
    test_backpressure();
    test_behind();
    test_rate();
    test_journal();
    t_rm_rf(dir);
    return gf_test_summary("test_logs_stream");
}
