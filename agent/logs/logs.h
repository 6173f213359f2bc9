/* SPDX-License-Identifier: Apache-2.0
 *
 * logs.h - the agent's log streams: ship lines of an allowlisted log file, or of the systemd
 * journal of an allowlisted unit, as ordered JSON chunks over MQTT (`logs/{stream_id}`).
 *
 * One gf_logs handle owns one thread that runs up to streams_max streams. A stream reads the
 * last past_lines lines, then (follow) new lines as they are written, through rotation by
 * rename and by truncation, until it is stopped, its max duration passes, or (not following)
 * the past lines are sent. Lines are filtered (substring or POSIX ERE), cut at 8 KiB, made
 * valid UTF-8, batched into chunks bounded by bytes and time, rate-limited per stream, and
 * handed to the caller's publish callback one chunk at a time. When publish answers
 * GF_ERR_UNAVAILABLE the chunk is kept and retried and the source is not read meanwhile: the
 * log file (or the journal) is the buffer, so a broker outage loses no line. Gaps that do
 * happen are explicit in the chunks ("dropped", "truncated"). The chunk format and the
 * policies are in docs/internals/agent-logs.md.
 */
#ifndef GF_AGENT_LOGS_H
#define GF_AGENT_LOGS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define GF_LOGS_ID_MAX 63                           /* stream id characters */
#define GF_LOGS_LINE_MAX 8192u                      /* a longer line is cut into pieces */
#define GF_LOGS_PAST_MAX 10000L                     /* past_lines upper bound */
#define GF_LOGS_PAST_SCAN_MAX (16u * 1024u * 1024u) /* bytes read backwards for past lines */
#define GF_LOGS_DURATION_MIN 1000L                  /* max_duration_ms bounds */
#define GF_LOGS_DURATION_MAX (24L * 3600L * 1000L)
#define GF_LOGS_FILTER_MAX 1024u                    /* filter characters */
#define GF_LOGS_STREAMS_HARD 64L                    /* streams_max upper bound */
#define GF_LOGS_CHUNK_BYTES (16u * 1024u)           /* default chunk payload */
#define GF_LOGS_CHUNK_BYTES_MAX (128u * 1024u)      /* chunk_bytes upper bound */
#define GF_LOGS_FLUSH_MS 200L                       /* default: a partial chunk leaves after */
#define GF_LOGS_POLL_MS 100L                        /* default: a followed file is polled every */
#define GF_LOGS_RETRY_MS 100L                       /* a refused chunk is retried every */
#define GF_LOGS_BEHIND_MAX (256ull * 1024u * 1024u) /* default: further behind, lines drop */
#define GF_LOGS_END_GRACE_MS 60000L                 /* an ended stream's last chunks wait this */

/* Publish one chunk: json[0..len) (borrowed for the call, not NUL-terminated) on
 * logs/{stream_id}. Return GF_OK once the chunk is taken (queued by the MQTT client),
 * GF_ERR_UNAVAILABLE when it cannot be taken now (broker down, send queue full): the same
 * chunk is offered again later (every GF_LOGS_RETRY_MS, or at gf_logs_kick) and nothing else
 * of that stream meanwhile. Any other error drops the chunk; its lines are counted in the
 * next chunk's "dropped". Called on the streams thread only. */
typedef enum gf_err (*gf_logs_publish_fn)(void *ud, const char *stream_id, const char *json,
                                          size_t len);

/* Plain value struct; strings borrowed for gf_logs_new (copied). */
struct gf_logs_opts {
    const char *files;      /* log_files: comma-separated absolute paths / fnmatch patterns */
    const char *units;      /* log_units: comma-separated unit names */
    long rate_lines;        /* lines/s per stream (>= 1) */
    long rate_bytes;        /* bytes/s per stream (>= 1) */
    long streams_max;       /* 1..GF_LOGS_STREAMS_HARD */
    const char *journalctl; /* journalctl program; NULL = "journalctl" searched in PATH */
    size_t chunk_bytes;     /* 0 = GF_LOGS_CHUNK_BYTES; at most GF_LOGS_CHUNK_BYTES_MAX */
    long flush_ms;          /* 0 = GF_LOGS_FLUSH_MS */
    long poll_ms;           /* 0 = GF_LOGS_POLL_MS */
    uint64_t behind_max;    /* 0 = GF_LOGS_BEHIND_MAX */
    gf_logs_publish_fn publish;
    void *ud; /* passed to publish */
};

/* A start request; plain value struct, strings borrowed for the gf_logs_start call. Exactly
 * one of path and unit is set. */
struct gf_logs_req {
    char stream_id[64];   /* [A-Za-z0-9._-]{1,63}, unique among running streams */
    const char *path;     /* absolute path of a log file in log_files */
    const char *unit;     /* systemd unit in log_units, [A-Za-z0-9@._:-]{1,128} */
    long past_lines;      /* 0..GF_LOGS_PAST_MAX lines from before the start */
    int follow;           /* 1: then keep sending new lines */
    const char *filter;   /* NULL or "": every line; "re:<POSIX ERE>"; else a substring */
    long max_duration_ms; /* GF_LOGS_DURATION_MIN..GF_LOGS_DURATION_MAX */
};

/* Totals since gf_logs_new (plain value struct). */
struct gf_logs_stats {
    uint64_t running; /* streams not yet finished */
    uint64_t started; /* streams started */
    uint64_t chunks;  /* chunks published (taken by publish) */
    uint64_t lines;   /* lines in those chunks (a cut line counts once per piece) */
    uint64_t bytes;   /* JSON bytes of those chunks */
    uint64_t dropped; /* lines reported as dropped */
};

struct gf_logs;

/* Parse the allowlists and start the streams thread. GF_ERR_CONFIG with diag->where "log_files"
 * (an entry not absolute or containing a ".." component), "log_units" (a bad unit name) or
 * the opts field name (publish missing, a bound out of range); GF_ERR_NOMEM; GF_ERR_IO
 * (thread or pipe creation). On success *out is owned by the caller (free with
 * gf_logs_free). */
enum gf_err gf_logs_new(const struct gf_logs_opts *opts, struct gf_logs **out,
                        struct gf_diag *diag);

/* Stop every stream (each ends with reason "stopped"; its pending and end chunks are offered
 * to publish once, without retry), kill journalctl children, join the thread, free. NULL is
 * a no-op. Not to be called from the publish callback. */
void gf_logs_free(struct gf_logs *ls);

/* Start a stream. Checks, each with diag->where naming the request field:
 *   GF_ERR_INVAL    bad stream_id, both or neither of path/unit, past_lines or
 *                   max_duration_ms out of range, a bad filter (too long, bad regex), path
 *                   not absolute, a ".." component, unit name syntax, not a regular file;
 *   GF_ERR_PERM     path (as given, and canonicalized by realpath so symlinks cannot leave
 *                   the set) not matched by log_files, or unit not in log_units;
 *   GF_ERR_NOTFOUND the file does not exist, or journalctl cannot be started;
 *   GF_ERR_EXISTS   a stream with this id is running (or still sending its end);
 *   GF_ERR_RATELIMIT streams_max streams are running;
 *   GF_ERR_IO, GF_ERR_NOMEM.
 * The file is opened (or journalctl spawned) here, so a refusal is synchronous; the first
 * chunk follows from the streams thread. Thread-safe (not from the publish callback). */
enum gf_err gf_logs_start(struct gf_logs *ls, const struct gf_logs_req *req, struct gf_diag *diag);

/* Ask stream_id to end: its current lines go out in a last chunk with reason "stopped".
 * GF_ERR_NOTFOUND when no such stream runs. Thread-safe, returns at once; may be called from
 * the publish callback. */
enum gf_err gf_logs_stop(struct gf_logs *ls, const char *stream_id);

/* The broker is reachable again: retry refused chunks now instead of at the next retry tick.
 * Thread-safe, async-signal-unsafe, cheap; may be called from the publish callback. */
void gf_logs_kick(struct gf_logs *ls);

/* Fill *out. Thread-safe. */
void gf_logs_stats(struct gf_logs *ls, struct gf_logs_stats *out);

#endif
