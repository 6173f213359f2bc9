/* SPDX-License-Identifier: Apache-2.0
 *
 * spool.c - the agent's on-disk telemetry spool (see spool.h and
 * docs/internals/agent-spool.md). Records are appended to the newest of a run of segment
 * files `seg-<16 hex digits of the first id>.log`, each record framed as
 * [magic u32][length u32][id u64][CRC32C u32 of id + payload] + payload, little-endian. Open
 * scans every segment, cuts a torn tail off the newest one and stops reading an older one at
 * its first bad record. Memory stays small: an index entry per segment (first id, last id,
 * size), one record buffer of max_record bytes, and a write descriptor for the newest segment.
 * The acknowledged id lives in the `ack` file, replaced atomically, and is the floor of the
 * next id when every segment is gone.
 */
#define GF_LOG_MODULE "spool"
#include "spool.h"

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_MAGIC 0x31505347u   /* bytes "GSP1" on disk */
#define SPOOL_HDR 20u             /* magic, length, id, crc */
#define SPOOL_MIN_SEGMENT 4096u   /* smallest segment_bytes accepted */
#define SPOOL_MAX_SEGMENTS 16384u /* max_bytes / segment_bytes: bounds the index */
#define SPOOL_ACK_CAP 32u         /* the ack file: one decimal id and a newline */
#define SPOOL_NAME_CAP 32u        /* "seg-" + 16 hex + ".log" + NUL fits */

struct seg {
    uint64_t first; /* id in the file name */
    uint64_t last;  /* id of the last good record; first - 1 when it has none */
    uint64_t size;  /* bytes of the file */
};

struct gf_spool {
    uint64_t max_bytes;
    uint32_t segment_bytes;
    uint32_t max_record;
    enum gf_spool_sync sync;
    int dfd;          /* the spool directory */
    int tail_fd;      /* write descriptor of segs[nseg - 1]; -1 until needed */
    int tail_broken;  /* the newest segment has bytes we cannot extend: start a new one */
    struct seg *segs; /* oldest first; owned */
    size_t nseg, cap;
    unsigned char *buf; /* SPOOL_HDR + max_record bytes; owned */
    char *ack_path;     /* owned */
    uint64_t bytes, next_id, acked, dropped, corrupt;
};

/* ---- CRC32C (Castagnoli, reflected 0x82F63B78), table built once ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc_table[i] = c;
    }
}

static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n-- > 0) {
        crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- little-endian fields ---- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- small I/O helpers ---- */

/* Read up to n bytes at off; returns the count (short at end of file) or -1. */
static ssize_t pread_full(int fd, unsigned char *p, size_t n, uint64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int pwrite_full(int fd, const unsigned char *p, size_t n, uint64_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = pwrite(fd, p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

static void seg_name(char *out, uint64_t first)
{
    snprintf(out, SPOOL_NAME_CAP, "seg-%016" PRIx64 ".log", first);
}

/* "seg-" + exactly 16 lowercase hex digits + ".log"; anything else is not ours. */
static int parse_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;

    if (strlen(name) != 24 || memcmp(name, "seg-", 4) != 0 || strcmp(name + 20, ".log") != 0) {
        return 0;
    }
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else {
            return 0;
        }
        v = v << 4 | d;
    }
    *first = v;
    return v > 0;
}

/* ---- records ---- */

/* Load the record at off, which must carry id expect, into sp->buf: its header, and its
 * payload (CRC-checked) when want_payload. 1 good, 0 torn or corrupt, -1 read error. */
static int rec_load(struct gf_spool *sp, int fd, uint64_t off, uint64_t expect, int want_payload,
                    uint32_t *len)
{
    ssize_t n = pread_full(fd, sp->buf, SPOOL_HDR, off);

    if (n < 0) {
        return -1;
    }
    if ((size_t)n < SPOOL_HDR || get32(sp->buf) != SPOOL_MAGIC ||
        get32(sp->buf + 4) > sp->max_record || get64(sp->buf + 8) != expect) {
        return 0;
    }
    *len = get32(sp->buf + 4);
    if (!want_payload) {
        return 1;
    }
    n = pread_full(fd, sp->buf + SPOOL_HDR, *len, off + SPOOL_HDR);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n < *len) {
        return 0;
    }
    return crc32c(crc32c(0, sp->buf + 8, 8), sp->buf + SPOOL_HDR, *len) == get32(sp->buf + 16);
}

/* ---- the segment index ---- */

static enum gf_err index_reserve(struct gf_spool *sp, size_t n)
{
    struct seg *p;

    if (n <= sp->cap) {
        return GF_OK;
    }
    if (n < 2 * sp->cap) {
        n = 2 * sp->cap;
    }
    p = gf_realloc(sp->segs, n * sizeof(*p));
    if (p == NULL) {
        return GF_ERR_NOMEM;
    }
    sp->segs = p;
    sp->cap = n;
    return GF_OK;
}

static uint64_t seg_unacked(const struct gf_spool *sp, const struct seg *s)
{
    uint64_t from = s->first > sp->acked ? s->first : sp->acked + 1;

    return s->last >= from ? s->last - from + 1 : 0;
}

/* Delete segment i (file and index entry). GF_ERR_IO leaves both as they were. */
static enum gf_err seg_remove(struct gf_spool *sp, size_t i)
{
    char name[SPOOL_NAME_CAP];

    seg_name(name, sp->segs[i].first);
    if (unlinkat(sp->dfd, name, 0) != 0 && errno != ENOENT) {
        gf_log_warn("cannot delete spool segment", "segment=%s errno=%d", name, errno);
        return GF_ERR_IO;
    }
    if (i == sp->nseg - 1) {
        if (sp->tail_fd >= 0) {
            close(sp->tail_fd);
        }
        sp->tail_fd = -1;
        sp->tail_broken = 0;
    }
    sp->bytes -= sp->segs[i].size;
    memmove(sp->segs + i, sp->segs + i + 1, (sp->nseg - i - 1) * sizeof(*sp->segs));
    sp->nseg--;
    return GF_OK;
}

/* The newest segment stays open for appends until it is full or broken. */
static int seg_closed(const struct gf_spool *sp, size_t i)
{
    return i + 1 < sp->nseg || sp->tail_broken || sp->segs[i].size >= sp->segment_bytes;
}

/* Delete the oldest segments once every record in them is acknowledged. */
static void trim_acked(struct gf_spool *sp)
{
    while (sp->nseg > 0 && sp->segs[0].last <= sp->acked && seg_closed(sp, 0) &&
           seg_remove(sp, 0) == GF_OK) {
    }
}

/* Delete the oldest segments while over max_bytes (never the newest), counting the records
 * nobody acknowledged as dropped. */
static void enforce_bound(struct gf_spool *sp)
{
    while (sp->bytes > sp->max_bytes && sp->nseg > 1) {
        uint64_t lost = seg_unacked(sp, &sp->segs[0]);
        if (seg_remove(sp, 0) != GF_OK) {
            break;
        }
        sp->dropped += lost;
        if (lost > 0) {
            gf_log_warn("spool full, dropped the oldest segment", "records=%" PRIu64, lost);
        }
    }
}

/* Validate every record of segment i. A bad record in the newest segment is cut off (the
 * file truncated there); in an older one the rest of the file is skipped. *bad is set when
 * the segment keeps bytes it cannot extend. */
static enum gf_err seg_scan(struct gf_spool *sp, size_t i, int *bad)
{
    struct seg *s = &sp->segs[i];
    char name[SPOOL_NAME_CAP];
    uint64_t off = 0, expect = s->first;
    uint32_t len = 0;
    int newest = i + 1 == sp->nseg;
    int r = 1, fd;

    seg_name(name, s->first);
    fd = openat(sp->dfd, name, (newest ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        return GF_ERR_IO;
    }
    while (off < s->size && (r = rec_load(sp, fd, off, expect, 1, &len)) == 1) {
        off += SPOOL_HDR + len;
        expect++;
    }
    s->last = expect - 1;
    *bad = 0;
    if (r >= 0 && off < s->size) {
        sp->corrupt++;
        gf_log_warn("spool segment has a torn or corrupt record",
                    "segment=%s offset=%" PRIu64 " size=%" PRIu64 " cut=%d", name, off, s->size,
                    newest);
        if (!newest || ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0) {
            *bad = 1;
        } else {
            sp->bytes -= s->size - off;
            s->size = off;
        }
    }
    close(fd);
    return r < 0 ? GF_ERR_IO : GF_OK;
}

/* ---- open ---- */

static enum gf_err check_opts(const struct gf_spool_opts *o, struct gf_diag *diag)
{
    if (o->dir == NULL || o->dir[0] == '\0') {
        return gf_diag_set(diag, GF_ERR_CONFIG, "dir", "spool dir is empty");
    }
    if (o->segment_bytes < SPOOL_MIN_SEGMENT) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "segment_bytes",
                           "segment_bytes %" PRIu32 " is below %u", o->segment_bytes,
                           SPOOL_MIN_SEGMENT);
    }
    if (o->max_record > o->segment_bytes || (uint64_t)o->max_record + SPOOL_HDR > SIZE_MAX) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "max_record",
                           "max_record %" PRIu32 " exceeds segment_bytes %" PRIu32, o->max_record,
                           o->segment_bytes);
    }
    if (o->max_bytes / 4 < o->segment_bytes) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "max_bytes",
                           "max_bytes %" PRIu64 " is below 4 * segment_bytes", o->max_bytes);
    }
    if (o->max_bytes / o->segment_bytes > SPOOL_MAX_SEGMENTS) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "segment_bytes",
                           "segment_bytes %" PRIu32 " is too small for max_bytes %" PRIu64
                           " (at most %u segments)",
                           o->segment_bytes, o->max_bytes, SPOOL_MAX_SEGMENTS);
    }
    if (o->sync != GF_SPOOL_SYNC_ALWAYS && o->sync != GF_SPOOL_SYNC_NONE) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "sync", "unknown sync mode");
    }
    return GF_OK;
}

/* Read the acknowledged id: a missing file is 0; a malformed one is counted and ignored (it
 * is only ever replaced atomically, so this means outside damage). */
static enum gf_err load_ack(struct gf_spool *sp)
{
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, SPOOL_ACK_CAP);
    err = gf_file_read(sp->ack_path, &b);
    if (err == GF_OK) {
        char *end = b.data;
        unsigned long long v = 0;
        if (b.len > 0 && b.data[0] >= '0' && b.data[0] <= '9') {
            errno = 0;
            v = strtoull(b.data, &end, 10);
        }
        size_t used = (size_t)(end - b.data);
        if (used == 0 || errno != 0 || !(used == b.len || (used + 1 == b.len && *end == '\n'))) {
            err = GF_ERR_PARSE;
        } else {
            sp->acked = (uint64_t)v;
        }
    }
    gf_buf_free(&b);
    if (err == GF_ERR_PARSE || err == GF_ERR_TOOBIG) {
        sp->corrupt++;
        gf_log_warn("spool ack file malformed, ignored", "path=%s", sp->ack_path);
        return GF_OK;
    }
    return err == GF_ERR_NOTFOUND ? GF_OK : err;
}

/* Index every non-empty segment file; remove empty ones and stale ack temp files. Every
 * segment name raises the floor of next_id. */
static enum gf_err list_segments(struct gf_spool *sp, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    enum gf_err err = GF_OK;

    if (d == NULL) {
        return GF_ERR_IO;
    }
    while (err == GF_OK && (e = readdir(d)) != NULL) {
        struct stat st;
        uint64_t first;
        if (strncmp(e->d_name, "ack.tmp.", 8) == 0) {
            unlinkat(sp->dfd, e->d_name, 0);
        }
        if (!parse_name(e->d_name, &first) ||
            fstatat(sp->dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        /* Ids below a segment's name were handed out, even if its records are lost. */
        sp->next_id = first > sp->next_id ? first : sp->next_id;
        if (st.st_size == 0) {
            unlinkat(sp->dfd, e->d_name, 0);
            continue;
        }
        err = index_reserve(sp, sp->nseg + 1);
        if (err == GF_OK) {
            sp->segs[sp->nseg++] = (struct seg){first, first - 1, (uint64_t)st.st_size};
            sp->bytes += (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return err;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Scan all segments, cut the torn tail, drop what is acknowledged or over the bound, and
 * find the next id. */
static enum gf_err recover(struct gf_spool *sp)
{
    size_t bad_idx = SIZE_MAX;
    enum gf_err err;

    qsort(sp->segs, sp->nseg, sizeof(*sp->segs), seg_cmp);
    for (size_t i = 0; i < sp->nseg;) {
        int bad;
        err = seg_scan(sp, i, &bad);
        if (err != GF_OK) {
            return err;
        }
        bad_idx = bad ? i : bad_idx;
        if (sp->segs[i].size == 0) {
            err = seg_remove(sp, i); /* the newest, cut to nothing */
            if (err != GF_OK) {
                return err;
            }
            continue;
        }
        i++;
    }
    sp->tail_broken = sp->nseg > 0 && bad_idx == sp->nseg - 1;
    sp->next_id = sp->acked + 1 > sp->next_id ? sp->acked + 1 : sp->next_id;
    for (size_t i = 0; i < sp->nseg; i++) {
        /* A segment without one good record still owns the id in its name. */
        uint64_t top = sp->segs[i].last >= sp->segs[i].first ? sp->segs[i].last : sp->segs[i].first;
        sp->next_id = top >= sp->next_id ? top + 1 : sp->next_id;
    }
    trim_acked(sp);
    enforce_bound(sp);
    return GF_OK;
}

enum gf_err gf_spool_open(const struct gf_spool_opts *opts, struct gf_spool **out,
                          struct gf_diag *diag)
{
    char path[PATH_MAX];
    struct gf_spool *sp = NULL;
    enum gf_err err;

    err = check_opts(opts, diag);
    if (err != GF_OK) {
        return err;
    }
    if (snprintf(path, sizeof(path), "%s/ack", opts->dir) >= (int)sizeof(path)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "dir", "spool dir path too long");
    }
    pthread_once(&crc_once, crc_init);
    sp = gf_calloc(1, sizeof(*sp));
    if (sp == NULL) {
        return GF_ERR_NOMEM;
    }
    sp->dfd = sp->tail_fd = -1;
    sp->max_bytes = opts->max_bytes;
    sp->segment_bytes = opts->segment_bytes;
    sp->max_record = opts->max_record;
    sp->sync = opts->sync;
    sp->ack_path = gf_strdup(path);
    sp->buf = gf_malloc(SPOOL_HDR + (size_t)opts->max_record);
    err = sp->ack_path == NULL || sp->buf == NULL ? GF_ERR_NOMEM : GF_OK;
    if (err == GF_OK) {
        err = index_reserve(sp, (size_t)(opts->max_bytes / opts->segment_bytes) + 2);
    }
    if (err != GF_OK) {
        goto out;
    }
    if (gf_file_mkdirs(opts->dir, 0700) != GF_OK ||
        (sp->dfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        err = gf_diag_set(diag, GF_ERR_IO, "dir", "cannot create or open spool dir %s", opts->dir);
        goto out;
    }
    err = load_ack(sp);
    if (err == GF_OK) {
        err = list_segments(sp, opts->dir);
    }
    if (err == GF_OK) {
        err = recover(sp);
    }
    if (err == GF_ERR_IO) {
        err = gf_diag_set(diag, err, "dir", "cannot read the spool in %s", opts->dir);
    }
out:
    if (err != GF_OK) {
        gf_spool_close(sp);
        return err;
    }
    *out = sp;
    return GF_OK;
}

void gf_spool_close(struct gf_spool *sp)
{
    if (sp == NULL) {
        return;
    }
    if (sp->tail_fd >= 0) {
        close(sp->tail_fd);
    }
    if (sp->dfd >= 0) {
        close(sp->dfd);
    }
    gf_free(sp->segs);
    gf_free(sp->buf);
    gf_free(sp->ack_path);
    gf_free(sp);
}

/* ---- append ---- */

/* Start segment seg-<next_id>.log as the newest; the directory is synced for durability. */
static enum gf_err seg_create(struct gf_spool *sp)
{
    char name[SPOOL_NAME_CAP];
    int fd;

    if (index_reserve(sp, sp->nseg + 1) != GF_OK) {
        return GF_ERR_NOMEM;
    }
    seg_name(name, sp->next_id);
    fd = openat(sp->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        gf_log_warn("cannot create spool segment", "segment=%s errno=%d", name, errno);
        return GF_ERR_IO;
    }
    if (sp->sync == GF_SPOOL_SYNC_ALWAYS && fsync(sp->dfd) != 0) {
        close(fd);
        unlinkat(sp->dfd, name, 0);
        return GF_ERR_IO;
    }
    if (sp->tail_fd >= 0) {
        close(sp->tail_fd);
    }
    sp->segs[sp->nseg++] = (struct seg){sp->next_id, sp->next_id - 1, 0};
    sp->tail_fd = fd;
    sp->tail_broken = 0;
    return GF_OK;
}

/* Make sure the newest segment can take the next record, and is open for writing. */
static enum gf_err tail_ready(struct gf_spool *sp)
{
    struct seg *t = sp->nseg > 0 ? &sp->segs[sp->nseg - 1] : NULL;
    char name[SPOOL_NAME_CAP];

    if (t == NULL || sp->tail_broken || t->size >= sp->segment_bytes ||
        t->last + 1 != sp->next_id) {
        return seg_create(sp);
    }
    if (sp->tail_fd < 0) {
        seg_name(name, t->first);
        sp->tail_fd = openat(sp->dfd, name, O_WRONLY | O_CLOEXEC);
        if (sp->tail_fd < 0) {
            return GF_ERR_IO;
        }
    }
    return GF_OK;
}

/* A write or sync failed: take the record back. If that fails too, the id is burnt and the
 * segment is closed; the next open will skip the partial record as corrupt. */
static void append_undo(struct gf_spool *sp)
{
    struct seg *t = &sp->segs[sp->nseg - 1];
    struct stat st;

    if (ftruncate(sp->tail_fd, (off_t)t->size) == 0) {
        if (t->size == 0) {
            seg_remove(sp, sp->nseg - 1);
        }
        return;
    }
    sp->tail_broken = 1;
    sp->next_id++;
    if (fstat(sp->tail_fd, &st) == 0 && (uint64_t)st.st_size > t->size) {
        sp->bytes += (uint64_t)st.st_size - t->size;
        t->size = (uint64_t)st.st_size;
    }
}

enum gf_err gf_spool_append(struct gf_spool *sp, const void *data, size_t len, uint64_t *id)
{
    unsigned char *b = sp->buf;
    struct seg *t;
    enum gf_err err;

    if (len > sp->max_record) {
        return GF_ERR_TOOBIG;
    }
    err = tail_ready(sp);
    if (err != GF_OK) {
        return err;
    }
    t = &sp->segs[sp->nseg - 1];
    put32(b, SPOOL_MAGIC);
    put32(b + 4, (uint32_t)len);
    put64(b + 8, sp->next_id);
    if (len > 0) {
        memcpy(b + SPOOL_HDR, data, len);
    }
    put32(b + 16, crc32c(crc32c(0, b + 8, 8), b + SPOOL_HDR, len));
    if (pwrite_full(sp->tail_fd, b, SPOOL_HDR + len, t->size) != 0 ||
        (sp->sync == GF_SPOOL_SYNC_ALWAYS && fdatasync(sp->tail_fd) != 0)) {
        gf_log_warn("spool append failed", "id=%" PRIu64 " errno=%d", sp->next_id, errno);
        append_undo(sp);
        return GF_ERR_IO;
    }
    t->size += SPOOL_HDR + len;
    t->last = sp->next_id;
    sp->bytes += SPOOL_HDR + len;
    if (id != NULL) {
        *id = sp->next_id;
    }
    sp->next_id++;
    trim_acked(sp);
    enforce_bound(sp);
    return GF_OK;
}

/* ---- read, ack, stats ---- */

/* Segment i holds bytes that no longer check out: keep the records before them only. */
static void seg_cut(struct gf_spool *sp, size_t i, uint64_t expect)
{
    sp->corrupt++;
    sp->segs[i].last = expect - 1;
    if (i + 1 == sp->nseg) {
        sp->tail_broken = 1;
    }
    gf_log_warn("spool record corrupt on read", "id=%" PRIu64, expect);
}

struct read_state {
    uint64_t cursor; /* highest id visited or skipped */
    size_t n, bytes, max_records, max_bytes;
    gf_spool_visit_fn fn;
    void *ud;
    int stop;
};

static enum gf_err read_seg(struct gf_spool *sp, size_t i, struct read_state *rs)
{
    struct seg *s = &sp->segs[i];
    char name[SPOOL_NAME_CAP];
    uint64_t off = 0;
    uint32_t len = 0;
    int fd;

    seg_name(name, s->first);
    fd = openat(sp->dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return GF_ERR_IO;
    }
    for (uint64_t id = s->first; id <= s->last && !rs->stop; id++) {
        int want = id > rs->cursor;
        if (want && rs->n > 0 && rs->n >= rs->max_records) {
            rs->stop = 1;
            break;
        }
        int r = rec_load(sp, fd, off, id, want, &len);
        if (r < 0) {
            close(fd);
            return GF_ERR_IO;
        }
        if (r == 0) {
            seg_cut(sp, i, id);
            break;
        }
        off += SPOOL_HDR + len;
        if (!want) {
            continue;
        }
        if (rs->n > 0 && (rs->bytes > rs->max_bytes || len > rs->max_bytes - rs->bytes)) {
            rs->stop = 1;
            break;
        }
        rs->n++;
        rs->bytes += len;
        rs->cursor = id;
        rs->stop = rs->fn(rs->ud, id, sp->buf + SPOOL_HDR, len) != 0;
    }
    close(fd);
    return GF_OK;
}

enum gf_err gf_spool_read(struct gf_spool *sp, uint64_t after, size_t max_records, size_t max_bytes,
                          gf_spool_visit_fn fn, void *ud, size_t *visited)
{
    struct read_state rs = {
        after > sp->acked ? after : sp->acked, 0, 0, max_records, max_bytes, fn, ud, 0};
    enum gf_err err = GF_OK;

    for (size_t i = 0; i < sp->nseg && !rs.stop && err == GF_OK; i++) {
        if (sp->segs[i].last > rs.cursor) {
            err = read_seg(sp, i, &rs);
        }
    }
    if (err == GF_OK && visited != NULL) {
        *visited = rs.n;
    }
    return err;
}

enum gf_err gf_spool_ack(struct gf_spool *sp, uint64_t through)
{
    char txt[SPOOL_ACK_CAP];
    int n;

    if (through > sp->next_id - 1) {
        through = sp->next_id - 1;
    }
    if (through <= sp->acked) {
        return GF_OK;
    }
    n = snprintf(txt, sizeof(txt), "%" PRIu64 "\n", through);
    if (n < 0 || gf_file_write_atomic(sp->ack_path, txt, (size_t)n, 0600) != GF_OK) {
        gf_log_warn("cannot persist spool ack", "path=%s id=%" PRIu64, sp->ack_path, through);
        return GF_ERR_IO;
    }
    sp->acked = through;
    trim_acked(sp);
    return GF_OK;
}

void gf_spool_stats(const struct gf_spool *sp, struct gf_spool_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sp->nseg; i++) {
        uint64_t u = seg_unacked(sp, &sp->segs[i]);
        if (u > 0 && out->first_id == 0) {
            out->first_id = sp->segs[i].last - u + 1;
        }
        out->records += u;
    }
    out->bytes = sp->bytes;
    out->segments = sp->nseg;
    out->next_id = sp->next_id;
    out->acked_id = sp->acked;
    out->dropped = sp->dropped;
    out->corrupt = sp->corrupt;
}
