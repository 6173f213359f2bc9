/* SPDX-License-Identifier: Apache-2.0
 *
 * telemetry.c - spool records and health batches (see telemetry.h).
 */
#include "telemetry.h"

#include "spool.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gf_err gf_telemetry_record(struct gf_buf *out, const char *boot_id, uint64_t seq,
                                int64_t at_us, const json_t *sample)
{
    char at[40];
    char *s = json_dumps(sample, JSON_COMPACT);
    enum gf_err err;

    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    gf_time_format_rfc3339(at_us, at, sizeof(at));
    out->len = 0;
    err = gf_buf_printf(out, "%s\n{\"seq\":%llu,\"at\":\"%s\",\"sample\":%s}", boot_id,
                        (unsigned long long)seq, at, s);
    free(s);
    return err;
}

struct visit {
    struct gf_batch *b;
    enum gf_err err;
};

static int add_record(void *ud, uint64_t id, const void *data, size_t len)
{
    struct visit *v = ud;
    struct gf_batch *b = v->b;
    const char *nl = memchr(data, '\n', len);

    if (nl == NULL) {
        /* not a record of ours: it leaves the spool with this batch */
        if (b->records == 0) {
            b->first_id = id;
        }
        b->last_id = id;
        return 0;
    }
    size_t blen = (size_t)(nl - (const char *)data);
    if (b->records == 0) {
        snprintf(b->boot_id, sizeof(b->boot_id), "%.*s", (int)blen, (const char *)data);
        b->first_id = id;
    } else if (blen != strlen(b->boot_id) || memcmp(data, b->boot_id, blen) != 0) {
        return 1; /* another boot: next batch */
    }
    size_t rlen = len - blen - 1;
    if (b->records > 0 && b->payload.len + rlen + 256 > GF_BATCH_BYTES) { /* 256: wrapper */
        return 1;
    }
    if ((v->err = gf_buf_puts(&b->payload, b->records ? "," : "")) != GF_OK ||
        (v->err = gf_buf_append(&b->payload, nl + 1, rlen)) != GF_OK) {
        return 1;
    }
    b->last_id = id;
    b->records++;
    return b->records >= GF_BATCH_RECORDS;
}

enum gf_err gf_telemetry_batch(struct gf_spool *sp, uint64_t session, uint64_t dropped,
                               struct gf_batch *b)
{
    struct gf_buf head;
    struct visit v = {b, GF_OK};
    enum gf_err err;

    b->records = 0;
    b->first_id = b->last_id = 0;
    b->payload.len = 0;
    b->boot_id[0] = '\0';
    err = gf_spool_read(sp, 0, GF_BATCH_RECORDS, GF_BATCH_BYTES, add_record, &v, NULL);
    if (err != GF_OK || v.err != GF_OK || b->records == 0) {
        return err != GF_OK ? err : v.err;
    }
    /* wrap: {"boot_id":..,"session":..,"dropped":..,"records":[ ... ]} */
    gf_buf_init(&head, GF_BATCH_BYTES * 2);
    err = gf_buf_printf(&head, "{\"boot_id\":\"%s\",\"session\":%llu,\"dropped\":%llu,"
                        "\"records\":[", b->boot_id, (unsigned long long)session,
                        (unsigned long long)dropped);
    if (err == GF_OK) {
        err = gf_buf_append(&head, b->payload.data, b->payload.len);
    }
    if (err == GF_OK) {
        err = gf_buf_puts(&head, "]}");
    }
    if (err == GF_OK) {
        gf_buf_free(&b->payload);
        b->payload = head;
        return GF_OK;
    }
    gf_buf_free(&head);
    return err;
}
