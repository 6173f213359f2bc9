/* SPDX-License-Identifier: Apache-2.0
 *
 * memory.c - memory collector: RAM and swap from <procfs>/meminfo.
 *
 * Values in meminfo are kB; we report bytes. used_pct is 100 * (MemTotal - MemAvailable) /
 * MemTotal; a kernel without MemAvailable gets no available/used figures (we do not guess
 * them from MemFree). Swap used % only when SwapTotal > 0. Stateless. Output:
 *   {"total_bytes": .., "available_bytes": .., "used_pct": 37.5,
 *    "swap_total_bytes": .., "swap_free_bytes": .., "swap_used_pct": 10.0}
 */
#include "builtin.h"
#include "parse.h"

#include <string.h>

enum { MEM_TOTAL, MEM_AVAIL, SWAP_TOTAL, SWAP_FREE, MEM_N };

static const char *const mem_keys[MEM_N] = {
    "MemTotal:", "MemAvailable:", "SwapTotal:", "SwapFree:"};

enum gf_err gf_memory_init(void **state)
{
    return gf_coll_init_none(state);
}

void gf_memory_free(void *state)
{
    gf_coll_free_none(state);
}

/* "Key:   1234 kB" at cur: 1 with bytes in *out. */
static int parse_kb(const char *cur, unsigned long long *out)
{
    unsigned long long kb;

    if (gf_coll_u64(&cur, &kb) != 0 || kb > (~0ull >> 10)) {
        return 0;
    }
    gf_coll_skip_blank(&cur);
    if (strncmp(cur, "kB", 2) != 0) {
        return 0;
    }
    *out = kb * 1024ull;
    return 1;
}

static enum gf_err report(const unsigned long long *v, const int *have, json_t *out)
{
    enum gf_err err = GF_OK;

    if (have[MEM_TOTAL] && v[MEM_TOTAL] > 0) {
        err = gf_coll_set_int(out, "total_bytes", (long long)v[MEM_TOTAL]);
        if (err == GF_OK && have[MEM_AVAIL] && v[MEM_AVAIL] <= v[MEM_TOTAL]) {
            err = gf_coll_set_int(out, "available_bytes", (long long)v[MEM_AVAIL]);
            if (err == GF_OK) {
                err = gf_coll_set_real(
                    out, "used_pct",
                    gf_coll_pct((double)(v[MEM_TOTAL] - v[MEM_AVAIL]), (double)v[MEM_TOTAL]));
            }
        }
    }
    if (err == GF_OK && have[SWAP_TOTAL] && have[SWAP_FREE] && v[SWAP_FREE] <= v[SWAP_TOTAL]) {
        err = gf_coll_set_int(out, "swap_total_bytes", (long long)v[SWAP_TOTAL]);
        if (err == GF_OK) {
            err = gf_coll_set_int(out, "swap_free_bytes", (long long)v[SWAP_FREE]);
        }
        if (err == GF_OK && v[SWAP_TOTAL] > 0) {
            err = gf_coll_set_real(
                out, "swap_used_pct",
                gf_coll_pct((double)(v[SWAP_TOTAL] - v[SWAP_FREE]), (double)v[SWAP_TOTAL]));
        }
    }
    return err;
}

enum gf_err gf_memory_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    struct gf_buf b;
    const char *cur;
    unsigned long long v[MEM_N] = {0};
    int have[MEM_N] = {0};
    size_t i;
    enum gf_err err = gf_coll_read(roots->procfs, "meminfo", &b);

    (void)state;
    if (err != GF_OK || b.data == NULL) {
        err = err == GF_ERR_NOMEM ? err : GF_OK;
        goto out;
    }
    for (cur = b.data; *cur != '\0'; gf_coll_next_line(&cur)) {
        for (i = 0; i < MEM_N; i++) {
            size_t n = strlen(mem_keys[i]);
            if (!have[i] && strncmp(cur, mem_keys[i], n) == 0) {
                have[i] = parse_kb(cur + n, &v[i]);
            }
        }
    }
    err = report(v, have, out);
out:
    gf_buf_free(&b);
    return err;
}
