/* SPDX-License-Identifier: Apache-2.0
 *
 * test_logs_tail.c - log streams over real files in a temp directory (agent/logs/): the last
 * N lines (N above the file's line count, N = 0, lines longer than a read block, no final
 * newline, CRLF), following appended lines in order with contiguous seq, rotation by rename
 * with no line lost, truncation (copytruncate) marked, binary and invalid UTF-8 turned into
 * valid JSON, an endless line cut into bounded pieces (also while it grows), UTF-8 safe cuts,
 * substring and regex filters. Every chunk is parsed with jansson by the publish hook.
 */
#include "logs_test.h"

static char dir[512];

static struct gf_logs *mk(struct collect *c)
{
    char files[600];
    struct gf_logs_opts o;

    snprintf(files, sizeof(files), "%s/*.log", dir);
    memset(&o, 0, sizeof(o));
    o.files = files;
    o.rate_lines = 1000000;
    o.rate_bytes = 256L * 1024 * 1024;
    o.streams_max = 8;
    o.flush_ms = 50;
    o.poll_ms = 20;
    return t_logs_new(c, &o);
}

static void path_of(char *p, size_t cap, const char *name)
{
    snprintf(p, cap, "%s/%s", dir, name);
}

/* Start a stream and wait for its end; s receives the summary. */
static void run_to_end(struct gf_logs *ls, struct collect *c, struct gf_logs_req *r,
                       struct summary *s)
{
    struct gf_diag d;

    CHECK(gf_logs_start(ls, r, &d) == GF_OK);
    CHECK(wait_end(c, r->stream_id, 10000, s));
    CHECK(s->seq_ok);
    CHECK(c->invalid == 0);
}

static void test_past(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    char p[600], q[600], l[600];
    char *big = malloc(300000);

    path_of(p, sizeof(p), "past.log");
    t_puts(p, O_TRUNC, "");
    t_lines(p, "line ", 1, 6);
    r = t_req("p3", p, 3, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 3 && t_expect(&s, 0, "line ", 3, 6));
    CHECK_STR(s.reason, "done");
    summary_free(&s);

    r = t_req("p100", p, 100, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 5 && t_expect(&s, 0, "line ", 1, 6));
    summary_free(&s);

    r = t_req("p0", p, 0, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 0 && s.chunks == 1);
    CHECK_STR(s.reason, "done");
    summary_free(&s);

    path_of(q, sizeof(q), "nonl.log");
    t_puts(q, O_TRUNC, "a\nb\nc");
    r = t_req("nonl", q, 2, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 2);
    CHECK_STR(line_at(&s, 0), "b");
    CHECK_STR(line_at(&s, 1), "c");
    summary_free(&s);

    /* lines longer than a 64 KiB read block, CRLF */
    path_of(l, sizeof(l), "long.log");
    memset(big, 'x', 100000);
    big[100000] = '\n';
    memset(big + 100001, 'y', 150000);
    big[250001] = '\n';
    t_write(l, O_TRUNC, big, 250002);
    t_puts(l, O_APPEND, "short\r\n");
    r = t_req("long", l, 2, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 2);
    CHECK(json_string_length(json_array_get(s.lines, 0)) == 150000);
    CHECK(strspn(line_at(&s, 0), "y") == 150000);
    CHECK_STR(line_at(&s, 1), "short");
    CHECK(s.max_piece <= GF_LOGS_LINE_MAX);
    CHECK(s.cuts == 18); /* 150000 bytes: 19 pieces of at most 8192 */
    summary_free(&s);
    free(big);
    gf_logs_free(ls);
    collect_free(&c);
}

static void test_follow(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    char p[600];

    path_of(p, sizeof(p), "follow.log");
    t_puts(p, O_TRUNC, "old 0\n");
    r = t_req("f", p, 0, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    t_sleep_ms(100);
    /* each batch is appended once the one before has been published: lines go out as they
     * come, not at the end (a timed pause would not prove it on a loaded machine) */
    for (int b = 0; b < 10; b++) {
        t_lines(p, "f ", b * 100, b * 100 + 100);
        CHECK(wait_lines(&c, "f", (size_t)(b + 1) * 100, 10000, &s));
        summary_free(&s);
    }
    CHECK(wait_lines(&c, "f", 1000, 10000, &s));
    CHECK(json_array_size(s.lines) == 1000 && t_expect(&s, 0, "f ", 0, 1000));
    CHECK(s.seq_ok && s.chunks >= 10 && !s.ended);
    summary_free(&s);
    CHECK(gf_logs_stop(ls, "f") == GF_OK);
    CHECK(wait_end(&c, "f", 5000, &s));
    CHECK_STR(s.reason, "stopped");
    CHECK(json_array_size(s.lines) == 1000 && s.seq_ok);
    summary_free(&s);
    gf_logs_free(ls);
    collect_free(&c);
}

static void test_rename(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    char p[600], p1[620], buf[64];
    int old;

    path_of(p, sizeof(p), "rot.log");
    t_puts(p, O_TRUNC, "");
    old = open(p, O_WRONLY | O_APPEND); /* the writer keeps its descriptor across the rename */
    t_lines(p, "A", 0, 100);
    r = t_req("rot", p, 100, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_lines(&c, "rot", 100, 5000, &s));
    summary_free(&s);
    snprintf(p1, sizeof(p1), "%s.1", p);
    CHECK(rename(p, p1) == 0);
    for (int i = 100; i < 150; i++) {
        int n = snprintf(buf, sizeof(buf), "A%d\n", i);
        CHECK(write(old, buf, (size_t)n) == n);
    }
    close(old);
    t_puts(p, O_TRUNC, "");
    t_lines(p, "B", 0, 100);
    CHECK(wait_lines(&c, "rot", 250, 10000, &s));
    CHECK(json_array_size(s.lines) == 250);
    CHECK(t_expect(&s, 0, "A", 0, 150) && t_expect(&s, 150, "B", 0, 100));
    CHECK(s.seq_ok && s.dropped == 0 && s.truncated == 0);
    summary_free(&s);
    /* and again: the new file is followed too */
    t_lines(p, "B", 100, 110);
    CHECK(wait_lines(&c, "rot", 260, 5000, &s));
    CHECK(t_expect(&s, 250, "B", 100, 110));
    summary_free(&s);
    gf_logs_free(ls);
    collect_free(&c);
}

static void test_truncate(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    char p[600];

    path_of(p, sizeof(p), "trunc.log");
    t_puts(p, O_TRUNC, "");
    t_lines(p, "before-line-with-some-padding-", 0, 50);
    r = t_req("tr", p, 50, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_lines(&c, "tr", 50, 5000, &s));
    summary_free(&s);
    CHECK(truncate(p, 0) == 0); /* logrotate copytruncate */
    t_lines(p, "after-", 0, 5);
    CHECK(wait_lines(&c, "tr", 55, 5000, &s));
    CHECK(json_array_size(s.lines) == 55);
    CHECK(t_expect(&s, 0, "before-line-with-some-padding-", 0, 50));
    CHECK(t_expect(&s, 50, "after-", 0, 5));
    CHECK(s.truncated == 1 && s.trunc_at == 50 && s.seq_ok);
    summary_free(&s);
    gf_logs_free(ls);
    collect_free(&c);
}

static void test_binary(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    char p[600], u[600];
    size_t n = 200000;
    unsigned char *bin = malloc(n);
    uint32_t x = 2463534242u;
    static const char odd[] = "caf\xc3\xa9 \xff\xfe end\n"
                              "nul\0byte\n"
                              "ctl\x01\x1b tab\t\"q\" back\\\n"
                              "\xc0\xaf\n"
                              "\xed\xa0\x80\n"
                              "cut \xe2\x82\n";

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bin[i] = (unsigned char)x;
    }
    path_of(p, sizeof(p), "bin.log");
    t_write(p, O_TRUNC, (const char *)bin, n);
    r = t_req("bin", p, 10000, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) > 500);
    CHECK_STR(s.reason, "done");
    summary_free(&s);

    path_of(u, sizeof(u), "utf.log");
    t_write(u, O_TRUNC, odd, sizeof(odd) - 1);
    r = t_req("utf", u, 100, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 6);
    CHECK_STR(line_at(&s, 0), "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end");
    CHECK_STR(line_at(&s, 1), "nul\xef\xbf\xbd"
                              "byte");
    CHECK_STR(line_at(&s, 2), "ctl\x01\x1b tab\t\"q\" back\\");
    CHECK_STR(line_at(&s, 3), "\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_STR(line_at(&s, 4), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_STR(line_at(&s, 5), "cut \xef\xbf\xbd\xef\xbf\xbd");
    summary_free(&s);
    free(bin);
    gf_logs_free(ls);
    collect_free(&c);
}

static size_t wait_pieces(struct collect *c, const char *id, size_t n, long ms)
{
    int64_t until = t_now_ms() + ms;
    struct summary s;
    size_t got;

    for (;;) {
        summarize(c, id, &s);
        got = s.pieces;
        summary_free(&s);
        if (got >= n || t_now_ms() >= until) {
            return got;
        }
        t_sleep_ms(20);
    }
}

static void test_endless(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    char p[600], g[600], e[600];
    size_t n = 100000;
    char *buf = malloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        buf[i] = (char)('a' + i % 26);
    }
    buf[n] = '\0';
    path_of(p, sizeof(p), "endless.log");
    t_write(p, O_TRUNC, buf, n);
    r = t_req("endless", p, 1, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 1);
    CHECK_STR(line_at(&s, 0), buf);
    CHECK(s.max_piece <= GF_LOGS_LINE_MAX && s.cuts == 12 && s.pieces == 13);
    summary_free(&s);

    /* growing without a newline: bounded pieces go out, the rest waits for its newline */
    path_of(g, sizeof(g), "grow.log");
    t_write(g, O_TRUNC, buf, 20000);
    r = t_req("grow", g, 1, 1);
    CHECK(gf_logs_start(ls, &r, &d) == GF_OK);
    CHECK(wait_pieces(&c, "grow", 2, 5000) == 2);
    t_sleep_ms(300);
    CHECK(wait_pieces(&c, "grow", 3, 0) == 2);
    t_puts(g, O_APPEND, "\nnext\n");
    CHECK(wait_lines(&c, "grow", 2, 5000, &s));
    CHECK(s.pieces == 4 && s.cuts == 2);
    CHECK(strncmp(line_at(&s, 0), buf, 20000) == 0 && strlen(line_at(&s, 0)) == 20000);
    CHECK_STR(line_at(&s, 1), "next");
    summary_free(&s);

    /* a cut never splits a UTF-8 character */
    path_of(e, sizeof(e), "euro.log");
    for (size_t i = 0; i < 30000; i += 3) {
        memcpy(buf + i, "\xe2\x82\xac", 3); /* U+20AC, 3 bytes: 8192 is inside one */
    }
    buf[30000] = '\n';
    t_write(e, O_TRUNC, buf, 30001);
    r = t_req("euro", e, 1, 0);
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 1 && strlen(line_at(&s, 0)) == 30000);
    CHECK(strstr(line_at(&s, 0), "\xef\xbf\xbd") == NULL && s.cuts == 3);
    summary_free(&s);
    free(buf);
    gf_logs_free(ls);
    collect_free(&c);
}

static void test_filter(void)
{
    struct collect c;
    struct gf_logs *ls = mk(&c);
    struct gf_logs_req r;
    struct summary s;
    struct gf_diag d;
    char p[600], q[600];
    char *big = malloc(40100);

    path_of(p, sizeof(p), "filter.log");
    t_puts(p, O_TRUNC, "alpha 1\nbeta 2\nalpha 3\ngamma alpha\n");
    r = t_req("sub", p, 100, 0);
    r.filter = "alpha";
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 3);
    CHECK_STR(line_at(&s, 0), "alpha 1");
    CHECK_STR(line_at(&s, 1), "alpha 3");
    CHECK_STR(line_at(&s, 2), "gamma alpha");
    CHECK(s.dropped == 0);
    summary_free(&s);

    r = t_req("re", p, 100, 0);
    r.filter = "re:^(beta|gamma) ";
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 2);
    CHECK_STR(line_at(&s, 0), "beta 2");
    CHECK_STR(line_at(&s, 1), "gamma alpha");
    summary_free(&s);

    r = t_req("badre", p, 100, 0);
    r.filter = "re:(unclosed";
    CHECK(gf_logs_start(ls, &r, &d) == GF_ERR_INVAL);
    CHECK_STR(d.where, "/filter");

    /* a long line is kept or skipped whole, by its first piece */
    path_of(q, sizeof(q), "longfilter.log");
    memcpy(big, "needle ", 7);
    memset(big + 7, 'n', 19993);
    big[20000] = '\n';
    memset(big + 20001, 'm', 20000);
    memcpy(big + 40001, "needle\n", 7);
    t_write(q, O_TRUNC, big, 40008);
    r = t_req("lf", q, 100, 0);
    r.filter = "needle";
    run_to_end(ls, &c, &r, &s);
    CHECK(json_array_size(s.lines) == 1 && strlen(line_at(&s, 0)) == 20000);
    CHECK(strncmp(line_at(&s, 0), "needle nnn", 10) == 0);
    summary_free(&s);
    free(big);
    gf_logs_free(ls);
    collect_free(&c);
}

int main(void)
{
    t_mkdtemp(dir, sizeof(dir));
    test_past();
    test_follow();
    test_rename();
    test_truncate();
    test_binary();
    test_endless();
    test_filter();
    t_rm_rf(dir);
    return gf_test_summary("test_logs_tail");
}
