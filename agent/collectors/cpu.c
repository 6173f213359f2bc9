/* SPDX-License-Identifier: Apache-2.0
 *
 * cpu.c - CPU collector: cores, load averages and busy percentage.
 *
 * Reads <procfs>/stat and <procfs>/loadavg. Usage is a rate: the aggregate "cpu" line is
 * kept in the state, and the next sample reports 100 * (busy delta) / (total delta), where
 * idle = idle + iowait and total = user + nice + system + idle + iowait + irq + softirq +
 * steal (guest time is already inside user). The first sample, or one after the counters went
 * backwards, reports no usage. Output:
 *   {"cores": 4, "usage_pct": 25.0, "load1": 0.52, "load5": 0.58, "load15": 0.59}
 */
#include "builtin.h"
#include "parse.h"

#include "alloc.h"

#include <string.h>

#define CPU_FIELDS 8 /* user nice system idle iowait irq softirq steal */

struct cpu_state {
    int have;
    unsigned long long total, idle;
};

enum gf_err gf_cpu_init(void **state)
{
    struct cpu_state *s = gf_calloc(1, sizeof(*s));

    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    *state = s;
    return GF_OK;
}

void gf_cpu_free(void *state)
{
    gf_free(state);
}

/* The aggregate line after "cpu": 1 with total/idle when at least 4 fields parse. */
static int parse_aggregate(const char *cur, unsigned long long *total, unsigned long long *idle)
{
    unsigned long long v[CPU_FIELDS] = {0};
    unsigned long long sum = 0;
    size_t n = 0, i;

    while (n < CPU_FIELDS && gf_coll_u64(&cur, &v[n]) == 0) {
        n++;
    }
    if (n < 4) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (sum + v[i] < sum) {
            return 0;
        }
        sum += v[i];
    }
    *total = sum;
    *idle = v[3] + v[4];
    return 1;
}

static enum gf_err sample_stat(struct cpu_state *s, const struct gf_collect_roots *roots,
                               json_t *out)
{
    struct gf_buf b;
    const char *cur;
    unsigned long long total = 0, idle = 0;
    long long cores = 0;
    int have = 0;
    enum gf_err err = gf_coll_read(roots->procfs, "stat", &b);

    if (err != GF_OK || b.data == NULL) {
        s->have = 0;
        err = err == GF_ERR_NOMEM ? err : GF_OK;
        goto out;
    }
    for (cur = b.data; *cur != '\0'; gf_coll_next_line(&cur)) {
        if (strncmp(cur, "cpu ", 4) == 0) {
            have = parse_aggregate(cur + 4, &total, &idle);
        } else if (strncmp(cur, "cpu", 3) == 0 && cur[3] >= '0' && cur[3] <= '9' &&
                   cores < (long long)GF_COLL_MAX_CPUS) {
            cores++;
        }
    }
    if (cores > 0 && (err = gf_coll_set_int(out, "cores", cores)) != GF_OK) {
        goto out;
    }
    if (have && s->have && total > s->total && idle >= s->idle &&
        idle - s->idle <= total - s->total) {
        double dt = (double)(total - s->total);
        double busy = dt - (double)(idle - s->idle);
        err = gf_coll_set_real(out, "usage_pct", gf_coll_pct(busy, dt));
    }
    s->have = have;
    s->total = total;
    s->idle = idle;
out:
    gf_buf_free(&b);
    return err;
}

static enum gf_err sample_loadavg(const struct gf_collect_roots *roots, json_t *out)
{
    static const char *const keys[3] = {"load1", "load5", "load15"};
    struct gf_buf b;
    const char *cur;
    double v[3];
    size_t i;
    enum gf_err err = gf_coll_read(roots->procfs, "loadavg", &b);

    if (err != GF_OK || b.data == NULL) {
        err = err == GF_ERR_NOMEM ? err : GF_OK;
        goto out;
    }
    cur = b.data;
    for (i = 0; i < 3; i++) {
        if (gf_coll_double(&cur, &v[i]) != 0) {
            goto out; /* all three or none: a torn line is not reported */
        }
    }
    for (i = 0; i < 3 && err == GF_OK; i++) {
        err = gf_coll_set_real(out, keys[i], v[i]);
    }
out:
    gf_buf_free(&b);
    return err;
}

enum gf_err gf_cpu_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    enum gf_err err = sample_stat(state, roots, out);

    return err != GF_OK ? err : sample_loadavg(roots, out);
}
