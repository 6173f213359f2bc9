/* SPDX-License-Identifier: Apache-2.0
 *
 * tail.c - the file follower of a log stream (logs_int.h).
 *
 * Past lines: the start offset is found by reading backwards from the end in 64 KiB blocks
 * and counting newlines (a newline that ends the file does not count), at most
 * GF_LOGS_PAST_SCAN_MAX bytes; if the lines asked for are longer than that, reading starts
 * that far from the end, in the middle of a line. Not following, the reader stops at the
 * size the file had at the start.
 *
 * Following, it reads with pread at its own offset until the end of the file, then checks:
 * - truncation (copytruncate): the descriptor's size is below the offset, so reading
 *   restarts at 0 and the event is reported (lines written and cut away between two checks
 *   cannot be counted);
 * - rotation by rename: the path names another inode; the old descriptor is read to its end
 *   once more (a writer may still have appended to it), then the new file is opened from its
 *   start through the allowlist again. While the path does not exist the old file is kept.
 *   The descriptor keeps a renamed or deleted file readable, so one rotation while the
 *   stream is paused loses nothing; lines of a file rotated in and out again while paused
 *   are never seen and cannot be counted.
 * - falling behind: before each read the size is compared with the offset (one fstat per
 *   64 KiB); more than behind_max behind, the reader skips to behind_max / 2 before the end,
 *   counting the newlines it passes (those lines are reported as dropped) and resuming
 *   after a newline.
 */
#define GF_LOG_MODULE "logs"
#include "logs_int.h"

#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKIP_BLOCKS 256 /* blocks skipped per call */

static ssize_t pread_retry(int fd, char *dst, size_t n, uint64_t off)
{
    ssize_t r;

    do {
        r = pread(fd, dst, n, (off_t)off);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* Offset of the start of the last past lines of the size bytes of fd. */
static enum gf_err find_start(int fd, uint64_t size, long past, uint64_t *start)
{
    uint64_t floor = size > GF_LOGS_PAST_SCAN_MAX ? size - GF_LOGS_PAST_SCAN_MAX : 0;
    uint64_t off = size;
    char *buf = gf_malloc(GF_LOGS_READ_BLOCK);
    long seen = 0;
    int last = 1;

    if (buf == NULL) {
        return GF_ERR_NOMEM;
    }
    *start = floor;
    while (off > floor) {
        size_t n = off - floor < GF_LOGS_READ_BLOCK ? (size_t)(off - floor) : GF_LOGS_READ_BLOCK;
        size_t got = 0, i;
        off -= n;
        while (got < n) {
            ssize_t r = pread_retry(fd, buf + got, n - got, off + got);
            if (r <= 0) {
                gf_free(buf);
                return GF_ERR_IO;
            }
            got += (size_t)r;
        }
        i = n;
        if (last && buf[n - 1] == '\n') {
            i--; /* the newline ending the file ends the last line, it does not start one */
        }
        last = 0;
        while (i > 0) {
            if (buf[--i] == '\n' && ++seen == past) {
                *start = off + i + 1;
                gf_free(buf);
                return GF_OK;
            }
        }
    }
    gf_free(buf);
    return GF_OK;
}

enum gf_err gf_logs_tail_open(struct gf_logs_tail *t, int fd, const char *canon,
                              const struct gf_logs_allow *allow, long past, int follow,
                              uint64_t behind_max)
{
    struct stat st;
    enum gf_err err = GF_OK;

    memset(t, 0, sizeof(*t));
    t->fd = fd;
    t->follow = follow;
    t->allow = allow;
    t->behind_max = behind_max;
    snprintf(t->path, sizeof(t->path), "%s", canon);
    if (fstat(fd, &st) != 0) {
        err = GF_ERR_IO;
        goto out;
    }
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    t->end = (uint64_t)st.st_size;
    t->pos = t->end;
    if (past > 0) {
        err = find_start(fd, t->end, past, &t->pos);
    }
out:
    if (err != GF_OK) {
        gf_logs_tail_close(t);
    }
    return err;
}

void gf_logs_tail_close(struct gf_logs_tail *t)
{
    if (t->fd >= 0) {
        close(t->fd);
    }
    t->fd = -1;
}

static uint64_t count_nl(const char *p, size_t n)
{
    uint64_t k = 0;
    const char *end = p + n;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        k++;
        p++;
    }
    return k;
}

/* Skipping: count the lines passed until the first newline at or after skip_to. */
static ssize_t skip(struct gf_logs_tail *t, char *dst, size_t cap, struct gf_logs_tail_ev *ev)
{
    ev->again = 1;
    for (int b = 0; b < SKIP_BLOCKS; b++) {
        ssize_t r = pread_retry(t->fd, dst, cap, t->pos);
        size_t n = r > 0 ? (size_t)r : 0;
        if (n == 0) {
            t->skipping = 0; /* the file ended (or shrank) first */
            return 0;
        }
        if (t->pos + n > t->skip_to) {
            size_t from = t->pos >= t->skip_to ? 0 : (size_t)(t->skip_to - t->pos);
            const char *nl = memchr(dst + from, '\n', n - from);
            if (nl != NULL) {
                size_t k = (size_t)(nl - dst) + 1;
                ev->dropped += count_nl(dst, k);
                t->pos += k;
                t->skipping = 0;
                return 0;
            }
        }
        ev->dropped += count_nl(dst, n);
        t->pos += n;
    }
    return 0;
}

/* Start skipping when too far behind. Returns 1 then. */
static int behind(struct gf_logs_tail *t)
{
    struct stat st;

    if (fstat(t->fd, &st) != 0 || (uint64_t)st.st_size <= t->pos + t->behind_max) {
        return 0;
    }
    t->skipping = 1;
    t->skip_to = (uint64_t)st.st_size - t->behind_max / 2;
    gf_log_warn("log reader fell behind, skipping", "path=%s behind=%llu", t->path,
                (unsigned long long)((uint64_t)st.st_size - t->pos));
    return 1;
}

/* The rotated-away file is read to its end: open the new one. */
static ssize_t reopen(struct gf_logs_tail *t, struct gf_logs_tail_ev *ev)
{
    char canon[PATH_MAX];
    struct gf_diag d;
    struct stat st;
    enum gf_err err;
    int fd = -1;

    gf_diag_clear(&d);
    t->draining = 0;
    err = gf_logs_allow_open(t->allow, t->path, canon, sizeof(canon), &fd, &d);
    if (err == GF_ERR_NOTFOUND) {
        return 0; /* gone again: keep the old file */
    }
    if (err != GF_OK || fstat(fd, &st) != 0) {
        snprintf(t->err, sizeof(t->err), "after rotation: %.140s", err != GF_OK ? d.msg : "fstat");
        if (fd >= 0) {
            close(fd);
        }
        return GF_LOGS_SRC_ERR;
    }
    close(t->fd);
    t->fd = fd;
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    t->pos = 0;
    ev->switched = 1;
    ev->again = 1;
    return 0;
}

/* Following and at the end of the file: truncated, rotated, or just nothing new. */
static ssize_t at_eof(struct gf_logs_tail *t, struct gf_logs_tail_ev *ev)
{
    struct stat st;

    if (t->draining) {
        return reopen(t, ev);
    }
    if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->pos) {
        t->pos = 0;
        ev->truncated = 1;
        ev->again = 1;
        return 0;
    }
    if (stat(t->path, &st) == 0 && (st.st_dev != t->dev || st.st_ino != t->ino)) {
        t->draining = 1;
        ev->again = 1;
    }
    return 0;
}

ssize_t gf_logs_tail_read(struct gf_logs_tail *t, char *dst, size_t cap, struct gf_logs_tail_ev *ev)
{
    ssize_t r;

    memset(ev, 0, sizeof(*ev));
    cap = cap < GF_LOGS_READ_BLOCK ? cap : GF_LOGS_READ_BLOCK;
    if (t->skipping) {
        return skip(t, dst, cap, ev);
    }
    if (!t->follow) {
        if (t->pos >= t->end) {
            return GF_LOGS_SRC_END;
        }
        cap = t->end - t->pos < cap ? (size_t)(t->end - t->pos) : cap;
    } else if (behind(t)) {
        ev->again = 1;
        return 0;
    }
    r = pread_retry(t->fd, dst, cap, t->pos);
    if (r > 0) {
        t->pos += (uint64_t)r;
        return r;
    }
    if (r < 0) {
        snprintf(t->err, sizeof(t->err), "read: %s", strerror(errno));
        return GF_LOGS_SRC_ERR;
    }
    return t->follow ? at_eof(t, ev) : GF_LOGS_SRC_END;
}
