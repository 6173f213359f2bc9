/* SPDX-License-Identifier: Apache-2.0
 *
 * spool.h - the agent's on-disk telemetry spool: append-only segment files under one
 * directory, bounded in total size, that survive power cuts. Every record gets a spool id
 * that grows across restarts. Records stay until the caller acknowledges them (after the
 * server said they are committed to PostgreSQL); when the spool is over max_bytes the oldest
 * segment is deleted and its unacknowledged records are counted as dropped. Each record is
 * framed with its length and a CRC32C, so a torn or corrupt tail after a power cut is found
 * on open, cut off and counted, never fatal. One thread uses a spool at a time.
 *
 * Durability: with GF_SPOOL_SYNC_ALWAYS an append returns after fdatasync of the segment
 * (and of the directory when a segment was created); GF_SPOOL_SYNC_NONE leaves it to the
 * kernel (tests, benchmarks). See docs/internals/agent-spool.md.
 */
#ifndef GF_AGENT_SPOOL_H
#define GF_AGENT_SPOOL_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

enum gf_spool_sync {
    GF_SPOOL_SYNC_ALWAYS = 0,
    GF_SPOOL_SYNC_NONE = 1,
};

/* Plain value struct; dir borrowed for the call. */
struct gf_spool_opts {
    const char *dir;          /* created (0700) when missing */
    uint64_t max_bytes;       /* total bytes of all segments, >= 4 * segment_bytes */
    uint32_t segment_bytes;   /* a segment is closed once it reaches this size */
    uint32_t max_record;      /* largest payload accepted by append */
    enum gf_spool_sync sync;
};

struct gf_spool_stats {
    uint64_t records;         /* unacknowledged records on disk */
    uint64_t bytes;           /* bytes of all segment files */
    uint64_t segments;
    uint64_t first_id;        /* id of the oldest unacknowledged record, 0 when empty */
    uint64_t next_id;         /* id the next append gets */
    uint64_t acked_id;        /* highest acknowledged id */
    uint64_t dropped;         /* records deleted unacknowledged because of max_bytes */
    uint64_t corrupt;         /* records or tails found corrupt and skipped */
};

struct gf_spool;

/* Called for each record by gf_spool_read; data is borrowed for the call. Return non-zero to
 * stop early. */
typedef int (*gf_spool_visit_fn)(void *ud, uint64_t id, const void *data, size_t len);

/* Open (or create) the spool in opts->dir, recovering from a torn tail. GF_ERR_CONFIG for
 * bad options, with diag->where naming the field: segment_bytes < 4096, max_record >
 * segment_bytes, max_bytes < 4 * segment_bytes, or max_bytes / segment_bytes > 16384 (the
 * segment index is kept in memory). GF_ERR_IO (diag names "dir"), GF_ERR_NOMEM. On success
 * *out is owned by the caller (free with gf_spool_close). */
enum gf_err gf_spool_open(const struct gf_spool_opts *opts, struct gf_spool **out,
                          struct gf_diag *diag);

/* Close; NULL is a no-op. */
void gf_spool_close(struct gf_spool *sp);

/* Append one record (data borrowed for the call; may be NULL when len is 0); *id (optional)
 * receives its id. GF_ERR_TOOBIG when len > max_record, GF_ERR_IO (the record is taken
 * back), GF_ERR_NOMEM only if far more segments exist than max_bytes / segment_bytes. May
 * drop the oldest segment to stay under max_bytes. */
enum gf_err gf_spool_append(struct gf_spool *sp, const void *data, size_t len, uint64_t *id);

/* Visit unacknowledged records with id > after (0: from the oldest), in id order, at most
 * max_records records and max_bytes payload bytes (at least one record is visited if any
 * exists, so max_records 0 acts as 1). *visited (optional) receives the count. A record
 * found corrupt here is counted in stats.corrupt and skipped with the rest of its segment.
 * GF_ERR_IO. */
enum gf_err gf_spool_read(struct gf_spool *sp, uint64_t after, size_t max_records,
                          size_t max_bytes, gf_spool_visit_fn fn, void *ud, size_t *visited);

/* Acknowledge every record with id <= through (clamped to the last id handed out); segments
 * wholly acknowledged are deleted, except the newest while it is still below segment_bytes
 * (it keeps taking appends). The acknowledgement is persisted atomically (temp file, fsync,
 * rename, whatever the sync mode) so a restart does not resend them, and it is the floor of
 * the next id. An id at or below the current acked id is a no-op. GF_ERR_IO (nothing
 * changed). */
enum gf_err gf_spool_ack(struct gf_spool *sp, uint64_t through);

/* Fill *out; dropped and corrupt count since open. */
void gf_spool_stats(const struct gf_spool *sp, struct gf_spool_stats *out);

#endif
