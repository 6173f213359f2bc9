/* SPDX-License-Identifier: Apache-2.0
 *
 * telemetry.h - health records in the spool and the `health` batches built from them
 * (docs/mqtt.md). A spool record is "<boot_id>\n<record JSON>", where the record JSON is
 * {"seq", "at", "sample"} exactly as it goes on the wire, so a batch is built by joining
 * records without parsing them again. seq is the record's spool id: it never goes back,
 * also across agent restarts within one boot.
 */
#ifndef GF_AGENT_TELEMETRY_H
#define GF_AGENT_TELEMETRY_H

#include "buf.h"
#include "err.h"

#include <jansson.h>
#include <stdint.h>

struct gf_spool;

#define GF_BATCH_RECORDS 100
#define GF_BATCH_BYTES (64u * 1024u)

/* Encode one sample taken at at_us as a spool record into out (reset first). */
enum gf_err gf_telemetry_record(struct gf_buf *out, const char *boot_id, uint64_t seq,
                                int64_t at_us, const json_t *sample);

/* The batch of the oldest unacknowledged records, all of one boot. */
struct gf_batch {
    char boot_id[64];
    uint64_t first_id, last_id; /* spool ids == seqs */
    size_t records;
    struct gf_buf payload;      /* the `health` message */
};

/* Build the next batch from the spool into b (b->records == 0 when the spool is empty).
 * session and dropped go into the message. GF_ERR_IO, GF_ERR_NOMEM. */
enum gf_err gf_telemetry_batch(struct gf_spool *sp, uint64_t session, uint64_t dropped,
                               struct gf_batch *b);

#endif
