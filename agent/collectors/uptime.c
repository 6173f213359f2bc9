/* SPDX-License-Identifier: Apache-2.0
 *
 * uptime.c - uptime collector: seconds since boot from <procfs>/uptime.
 *
 * The first field of the file, in seconds with hundredths. Absent when the file is missing
 * or malformed. Stateless. Output: {"uptime_s": 12345.67}
 */
#include "builtin.h"
#include "parse.h"

enum gf_err gf_uptime_init(void **state)
{
    return gf_coll_init_none(state);
}

void gf_uptime_free(void *state)
{
    gf_coll_free_none(state);
}

enum gf_err gf_uptime_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    struct gf_buf b;
    const char *cur;
    double up;
    enum gf_err err = gf_coll_read(roots->procfs, "uptime", &b);

    (void)state;
    if (err != GF_OK || b.data == NULL) {
        err = err == GF_ERR_NOMEM ? err : GF_OK;
        goto out;
    }
    cur = b.data;
    if (gf_coll_double(&cur, &up) == 0) {
        err = gf_coll_set_real(out, "uptime_s", up);
    }
out:
    gf_buf_free(&b);
    return err;
}
