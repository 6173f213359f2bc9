/* SPDX-License-Identifier: Apache-2.0
 *
 * logs_int.h - the pieces of agent/logs/ behind logs.h, shared by its files only: the
 * allowlist (allow.c), the file follower (tail.c), the journalctl child (journal.c) and the
 * chunker with its rate limit and gap accounting (chunk.c). streams.c ties them together in
 * one thread. Nothing here is thread-safe: each stream belongs to the streams thread, apart
 * from gf_logs_allow_* (read-only after creation) and the spawn/open done by gf_logs_start.
 */
#ifndef GF_AGENT_LOGS_INT_H
#define GF_AGENT_LOGS_INT_H

#include "logs.h"

#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GF_LOGS_READ_BLOCK (64u * 1024u) /* one read(2) */
#define GF_LOGS_REASON_MAX 160u          /* end reason bytes */

/* Source read results besides a byte count (> 0) and 0 (nothing now). */
#define GF_LOGS_SRC_END (-1) /* finished: not following and all read, or journalctl exited */
#define GF_LOGS_SRC_ERR (-2) /* failed; the reason is in the source */

/* ---- allow.c ---- */

struct gf_logs_allow;

/* Parse log_files and log_units (either may be NULL). GF_ERR_CONFIG with diag->where the
 * setting name, GF_ERR_NOMEM. Caller owns *out (free with gf_logs_allow_free). */
enum gf_err gf_logs_allow_new(const char *files, const char *units, struct gf_logs_allow **out,
                              struct gf_diag *diag);
void gf_logs_allow_free(struct gf_logs_allow *a);

/* Check a requested path (absolute, no "..", as given and canonicalized matched by
 * log_files, a regular file) and open it. On success canon (cap >= PATH_MAX) receives the
 * canonical path and *fd a read-only descriptor the caller owns. Errors as gf_logs_start,
 * diag->where "/path". */
enum gf_err gf_logs_allow_open(const struct gf_logs_allow *a, const char *path, char *canon,
                               size_t cap, int *fd, struct gf_diag *diag);

/* Check a unit name's syntax and membership of log_units. GF_ERR_INVAL, GF_ERR_PERM. */
enum gf_err gf_logs_allow_unit(const struct gf_logs_allow *a, const char *unit,
                               struct gf_diag *diag);

/* ---- tail.c ---- */

/* What happened in one gf_logs_tail_read besides the bytes (plain value struct). */
struct gf_logs_tail_ev {
    uint64_t dropped; /* lines skipped because the reader was more than behind_max behind */
    int truncated;    /* the file shrank under the reader: reading restarted at offset 0 */
    int switched;     /* rotated: the old file is read to its end, the new one opened */
    int again;        /* more to do right away: call again without waiting */
};

struct gf_logs_tail {
    int fd;
    int follow;
    const struct gf_logs_allow *allow; /* borrowed: re-checks the path after a rotation */
    char path[PATH_MAX];               /* canonical */
    dev_t dev;
    ino_t ino;
    uint64_t pos;        /* offset of the next read */
    uint64_t end;        /* not following: stop here (the size at start) */
    uint64_t behind_max; /* further behind the end of the file than this: skip */
    uint64_t skip_to;    /* skipping: count lines until the first newline at or past this */
    int skipping;
    int draining; /* the path names another file: read this one to its end first */
    char err[GF_LOGS_REASON_MAX];
};

/* Take fd (ownership, also on failure) of the file at canon and position the reader at the
 * start of its last past lines (read backwards in blocks, at most GF_LOGS_PAST_SCAN_MAX
 * bytes). GF_ERR_IO. */
enum gf_err gf_logs_tail_open(struct gf_logs_tail *t, int fd, const char *canon,
                              const struct gf_logs_allow *allow, long past, int follow,
                              uint64_t behind_max);

/* Read up to cap bytes into dst. Returns the count, 0 when nothing is there now (or only
 * events, see ev), GF_LOGS_SRC_END, GF_LOGS_SRC_ERR (t->err). */
ssize_t gf_logs_tail_read(struct gf_logs_tail *t, char *dst, size_t cap,
                          struct gf_logs_tail_ev *ev);

void gf_logs_tail_close(struct gf_logs_tail *t);

/* ---- journal.c ---- */

struct gf_logs_journal {
    pid_t pid;  /* -1 when none */
    int out_fd; /* journalctl's stdout, non-blocking */
    int err_fd; /* its stderr, kept to errbuf */
    int reaped;
    int status;      /* waitpid status once reaped */
    int64_t kill_at; /* after a stop: SIGKILL the group at this time */
    size_t errlen;
    int err_line; /* the first stderr line is complete */
    char errbuf[GF_LOGS_REASON_MAX];
};

/* Spawn `prog -u unit -n past -o cat --no-pager [-f]` in its own process group (prog NULL =
 * "journalctl" in PATH). GF_ERR_NOTFOUND when it cannot be executed, GF_ERR_IO. */
enum gf_err gf_logs_journal_spawn(struct gf_logs_journal *j, const char *prog, const char *unit,
                                  long past, int follow, struct gf_diag *diag);

/* Read journalctl's output. Returns the count, 0, or GF_LOGS_SRC_END once its output ended
 * and it was reaped: why receives "done" (exit status 0) or "error: ..." */
ssize_t gf_logs_journal_read(struct gf_logs_journal *j, char *dst, size_t cap, char *why,
                             size_t whycap);

/* SIGTERM to the group (once); later calls of gf_logs_journal_reap send SIGKILL after 1 s.
 * Returns 1 when the child is gone (reaped). */
int gf_logs_journal_reap(struct gf_logs_journal *j, int64_t now);

/* SIGKILL the group, wait for the child, close the pipes. Idempotent. */
void gf_logs_journal_close(struct gf_logs_journal *j);

/* ---- chunk.c ---- */

enum gf_logs_run {
    GF_LOGS_RUN_INPUT,   /* every complete line is taken: give more input */
    GF_LOGS_RUN_SEALED,  /* a chunk is ready (gf_logs_chunk_sealed) */
    GF_LOGS_RUN_LIMITED, /* the rate limit holds the next line back for *wait_ms */
};

/* Plain value struct; strings borrowed for gf_logs_chunk_init. */
struct gf_logs_chunk_cfg {
    const char *stream_id;
    const char *filter;
    size_t chunk_bytes;
    long flush_ms;
    long rate_lines;
    long rate_bytes;
};

struct gf_logs_chunk {
    char id[GF_LOGS_ID_MAX + 1];
    size_t chunk_bytes;
    long flush_ms;
    /* filter */
    char *substr; /* owned; NULL: none */
    size_t substr_len;
    int has_re;
    regex_t re;
    char *scratch; /* owned: a NUL-terminated line for regexec */
    /* rate limit: token buckets, allowed into debt by one line */
    double rl, rb, lcap, bcap, ltok, btok;
    int64_t last_ms;
    /* raw input */
    char *in; /* owned, in_cap bytes */
    size_t in_cap, in_start, in_end;
    int cont; /* the last piece was cut: the next one continues that line */
    int skip; /* the filter refused this line's head: skip its pieces */
    /* the chunk being filled (lines from out + GF_LOGS_HEAD bytes) or sealed */
    char *out; /* owned */
    size_t out_cap, len, nlines, ncut;
    uint16_t cut[64];
    uint64_t seq;     /* of the next chunk sealed */
    uint64_t dropped; /* gap before the open chunk's lines */
    uint64_t truncated;
    int64_t first_ms; /* when the open chunk got its first content */
    int sealed;
    size_t sealed_off, sealed_len, sealed_lines;
    uint64_t sealed_dropped, sealed_truncated;
};

/* GF_ERR_INVAL (diag "/filter": too long, bad regex), GF_ERR_NOMEM. */
enum gf_err gf_logs_chunk_init(struct gf_logs_chunk *c, const struct gf_logs_chunk_cfg *cfg,
                               struct gf_diag *diag);
void gf_logs_chunk_free(struct gf_logs_chunk *c);

/* Where up to *n new raw bytes may be written (at least GF_LOGS_READ_BLOCK when the last run
 * returned GF_LOGS_RUN_INPUT); then gf_logs_chunk_commit(c, count). */
char *gf_logs_chunk_space(struct gf_logs_chunk *c, size_t *n);
void gf_logs_chunk_commit(struct gf_logs_chunk *c, size_t n);

/* Turn complete lines of the input into the open chunk. final: the input is complete, a last
 * line without newline is a line too. */
enum gf_logs_run gf_logs_chunk_run(struct gf_logs_chunk *c, int64_t now, int final,
                                   int64_t *wait_ms);

/* Forget the unprocessed input (a gap follows). */
void gf_logs_chunk_discard(struct gf_logs_chunk *c);

/* Record a gap (dropped lines, a truncation) before the next lines. Seals the open chunk
 * first when it has lines; returns 1 then. */
int gf_logs_chunk_gap(struct gf_logs_chunk *c, int64_t now, uint64_t dropped, int truncated,
                      int eof);

/* Seal the open chunk if it has content older than flush_ms; returns 1 then. */
int gf_logs_chunk_seal_old(struct gf_logs_chunk *c, int64_t now, int eof);

/* When the open chunk must leave (INT64_MAX: it is empty). */
int64_t gf_logs_chunk_flush_at(const struct gf_logs_chunk *c);

/* Seal the open chunk (possibly without lines) as the stream's last: "end":true, reason. */
void gf_logs_chunk_seal_end(struct gf_logs_chunk *c, const char *reason, int eof);

/* The sealed chunk, or 0 when none. */
int gf_logs_chunk_sealed(const struct gf_logs_chunk *c, const char **json, size_t *len,
                         size_t *nlines);

/* The sealed chunk was taken (published 1: the next gets seq + 1) or given up (0: its lines
 * are counted as dropped before the next chunk, which reuses its seq). */
void gf_logs_chunk_done(struct gf_logs_chunk *c, int published);

#endif
