/* SPDX-License-Identifier: Apache-2.0
 *
 * self.c - self collector: the agent's own resident memory and CPU use.
 *
 * rss_bytes is VmRSS of <procfs>/self/status. cpu_seconds is utime + stime of
 * <procfs>/self/stat (fields 14 and 15, counted after the last ')' so a command name with
 * spaces or parentheses cannot shift them) divided by the clock tick rate. cpu_pct is the
 * growth of cpu_seconds over the growth of <procfs>/uptime since the previous sample, both
 * read from the same procfs root, so tests over fixtures get exact values. The first sample
 * reports no cpu_pct. Output: {"rss_bytes": 3145728, "cpu_seconds": 1.5, "cpu_pct": 0.5}
 */
#include "builtin.h"
#include "parse.h"

#include "alloc.h"

#include <string.h>
#include <unistd.h>

struct self_state {
    int have;
    unsigned long long ticks;
    double uptime;
};

enum gf_err gf_self_init(void **state)
{
    struct self_state *s = gf_calloc(1, sizeof(*s));

    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    *state = s;
    return GF_OK;
}

void gf_self_free(void *state)
{
    gf_free(state);
}

static enum gf_err rss(const struct gf_collect_roots *roots, json_t *out)
{
    struct gf_buf b;
    const char *cur;
    unsigned long long kb;
    enum gf_err err = gf_coll_read(roots->procfs, "self/status", &b);

    if (err != GF_OK || b.data == NULL) {
        err = err == GF_ERR_NOMEM ? err : GF_OK;
        goto out;
    }
    for (cur = b.data; *cur != '\0'; gf_coll_next_line(&cur)) {
        if (strncmp(cur, "VmRSS:", 6) == 0) {
            cur += 6;
            if (gf_coll_u64(&cur, &kb) == 0 && kb <= (~0ull >> 11)) {
                err = gf_coll_set_int(out, "rss_bytes", (long long)(kb * 1024ull));
            }
            break;
        }
    }
out:
    gf_buf_free(&b);
    return err;
}

/* utime + stime from a stat line: 1 on success. */
static int stat_ticks(const char *line, unsigned long long *ticks)
{
    const char *cur = strrchr(line, ')');
    unsigned long long v, ut, st;
    int i;

    if (cur == NULL) {
        return 0;
    }
    cur++;
    gf_coll_skip_blank(&cur);
    if (*cur == '\0' || *cur == '\n') {
        return 0;
    }
    cur++; /* state letter: field 3 */
    for (i = 4; i <= 13; i++) {
        long long sv;
        if (gf_coll_i64(&cur, &sv) != 0) { /* ppid .. cmajflt; tty_nr may be negative */
            return 0;
        }
    }
    if (gf_coll_u64(&cur, &ut) != 0 || gf_coll_u64(&cur, &st) != 0 || ut + st < ut) {
        return 0;
    }
    v = ut + st;
    *ticks = v;
    return 1;
}

/* First field of <procfs>/uptime: 1 on success, 0 absent, -1 NOMEM. */
static int read_uptime(const struct gf_collect_roots *roots, double *up)
{
    struct gf_buf b;
    const char *cur;
    int rc = 0;
    enum gf_err err = gf_coll_read(roots->procfs, "uptime", &b);

    if (err == GF_OK && b.data != NULL) {
        cur = b.data;
        rc = gf_coll_double(&cur, up) == 0 ? 1 : 0;
    }
    gf_buf_free(&b);
    return err == GF_ERR_NOMEM ? -1 : rc;
}

static enum gf_err cpu(struct self_state *s, const struct gf_collect_roots *roots, json_t *out)
{
    struct gf_buf b;
    unsigned long long ticks = 0;
    double up = 0.0, hz = (double)sysconf(_SC_CLK_TCK);
    int have, up_ok;
    enum gf_err err = gf_coll_read(roots->procfs, "self/stat", &b);

    if (err == GF_ERR_NOMEM) {
        goto out;
    }
    have = err == GF_OK && b.data != NULL && hz > 0 && stat_ticks(b.data, &ticks);
    err = GF_OK;
    if ((up_ok = read_uptime(roots, &up)) < 0) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if (have) {
        err = gf_coll_set_real(out, "cpu_seconds", (double)ticks / hz);
    }
    have = have && up_ok;
    if (err == GF_OK && have && s->have && ticks >= s->ticks && up > s->uptime) {
        double used = (double)(ticks - s->ticks) / hz;
        err = gf_coll_set_real(out, "cpu_pct", gf_coll_pct(used, up - s->uptime));
    }
    s->have = have;
    s->ticks = ticks;
    s->uptime = up;
out:
    gf_buf_free(&b);
    return err;
}

enum gf_err gf_self_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    enum gf_err err = rss(roots, out);

    return err != GF_OK ? err : cpu(state, roots, out);
}
