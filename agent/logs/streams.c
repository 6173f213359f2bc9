/* SPDX-License-Identifier: Apache-2.0
 *
 * streams.c - the log streams thread (logs.h): the registry of running streams, and the loop
 * that moves each one from its source (tail.c or journal.c) through its chunker (chunk.c)
 * to the caller's publish callback.
 *
 * gf_logs_start checks the request and opens the file (or spawns journalctl) on the caller's
 * thread, so refusals are synchronous, then hands the stream to the thread under the mutex.
 * The thread owns every stream: it takes the list, stop requests and kicks under the mutex,
 * then services each stream without it (the publish callback may call gf_logs_stop or
 * gf_logs_kick). Servicing a stream is a small state machine run for a bounded number of
 * rounds (fairness between streams): offer the sealed chunk if there is one (refused: retry
 * in GF_LOGS_RETRY_MS or at a kick, and read nothing meanwhile), end the stream at a stop or
 * at its max duration, run the chunker over the input (which may seal a chunk or wait for
 * the rate limit), and read the next block when it needs input. The thread sleeps in poll(2)
 * on a wake pipe and on the journalctl pipes of streams waiting for input, until the
 * earliest of: a followed file's next poll, a chunk's flush time, a rate-limit wait, a
 * retry, a deadline. A stream whose last chunks cannot be published within
 * GF_LOGS_END_GRACE_MS after its end (or after its max duration) is given up.
 */
#define GF_LOG_MODULE "logs"
#include "logs_int.h"

#include "alloc.h"
#include "log.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 64    /* state machine steps per stream per loop (64 reads of 64 KiB) */
#define REAP_MS 50   /* a killed journalctl is looked at again after */
#define IDLE_MS 1000 /* longest sleep */
#define READ_AGAIN (-100)

struct stream {
    char id[GF_LOGS_ID_MAX + 1];
    int journal;
    int follow;
    struct gf_logs_tail tail;
    struct gf_logs_journal jr;
    struct gf_logs_chunk ch;
    int64_t deadline; /* max duration */
    int64_t end_by;   /* give up offering chunks after */
    int64_t retry_at; /* a refused chunk is offered again at */
    int stop;         /* requested (under the mutex) */
    int stop_seen;    /* copied by the thread */
    int final;        /* run the chunker with final (a last partial line is a line) */
    int src_done;     /* the source has finished: end with reason after final */
    int pend_trunc;   /* a truncation to record once the partial line is out */
    int eof;          /* the last read found nothing new */
    int ended;        /* the end chunk is sealed */
    int gone;         /* nothing more to publish */
    int finished;     /* gone and the child reaped: remove */
    int want_fd;      /* poll jr.out_fd */
    char reason[GF_LOGS_REASON_MAX];
};

struct gf_logs {
    pthread_mutex_t mu;
    pthread_t th;
    int wake[2];
    struct gf_logs_allow *allow;
    char *journalctl; /* owned, NULL: PATH */
    gf_logs_publish_fn publish;
    void *ud;
    long rate_lines, rate_bytes, streams_max, flush_ms, poll_ms;
    size_t chunk_bytes;
    uint64_t behind_max;
    /* under mu */
    struct stream *s[GF_LOGS_STREAMS_HARD];
    size_t n;
    int quit;
    int kicked;
    struct gf_logs_stats st;
};

static int64_t now_ms(void)
{
    return gf_time_mono_us() / 1000;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void wake(struct gf_logs *ls)
{
    ssize_t r = write(ls->wake[1], "w", 1);
    (void)r; /* a full pipe already wakes the thread */
}

/* ---- one stream ---- */

static void stream_free(struct stream *s)
{
    if (s == NULL) {
        return;
    }
    if (s->journal) {
        gf_logs_journal_close(&s->jr);
    } else {
        gf_logs_tail_close(&s->tail);
    }
    gf_logs_chunk_free(&s->ch);
    gf_free(s);
}

static void end(struct stream *s, const char *reason, int64_t now)
{
    if (reason != s->reason) {
        snprintf(s->reason, sizeof(s->reason), "%s", reason);
    }
    gf_logs_chunk_seal_end(&s->ch, s->reason, s->eof);
    s->ended = 1;
    s->end_by = min64(s->end_by, now + GF_LOGS_END_GRACE_MS);
    if (s->journal) {
        gf_logs_journal_reap(&s->jr, now); /* SIGTERM now, SIGKILL later */
    } else {
        gf_logs_tail_close(&s->tail);
    }
    gf_log_info("log stream ending", "stream=%s reason=\"%.100s\"", s->id, s->reason);
}

/* Offer the sealed chunk. Returns 0 when refused for now. */
static int offer(struct gf_logs *ls, struct stream *s, int64_t now)
{
    const char *json;
    size_t len, lines;
    enum gf_err err;

    gf_logs_chunk_sealed(&s->ch, &json, &len, &lines);
    err = ls->publish(ls->ud, s->id, json, len);
    if (err == GF_ERR_UNAVAILABLE) {
        s->retry_at = now + GF_LOGS_RETRY_MS;
        return 0;
    }
    pthread_mutex_lock(&ls->mu);
    if (err == GF_OK) {
        ls->st.chunks++;
        ls->st.lines += lines;
        ls->st.bytes += len;
        ls->st.dropped += s->ch.sealed_dropped;
    }
    pthread_mutex_unlock(&ls->mu);
    if (err != GF_OK) {
        gf_log_warn("log chunk refused, its lines count as dropped", "stream=%s err=\"%s\"", s->id,
                    gf_err_str(err));
    }
    gf_logs_chunk_done(&s->ch, err == GF_OK);
    if (s->ended) {
        s->gone = 1;
    }
    return 1;
}

/* Read the next block into the chunker. Returns the bytes read, 0 when there is nothing now
 * (src_done may be set), READ_AGAIN when something happened that needs another step. */
static ssize_t source_read(struct stream *s, int64_t now)
{
    struct gf_logs_tail_ev ev;
    size_t cap;
    char *dst = gf_logs_chunk_space(&s->ch, &cap);
    ssize_t r;

    cap = cap < GF_LOGS_READ_BLOCK ? cap : GF_LOGS_READ_BLOCK;
    if (s->journal) {
        r = gf_logs_journal_read(&s->jr, dst, cap, s->reason, sizeof(s->reason));
        memset(&ev, 0, sizeof(ev));
    } else {
        r = gf_logs_tail_read(&s->tail, dst, cap, &ev);
    }
    if (r > 0) {
        gf_logs_chunk_commit(&s->ch, (size_t)r);
        s->eof = 0;
        return r;
    }
    if (r == GF_LOGS_SRC_END || r == GF_LOGS_SRC_ERR) {
        if (!s->journal) {
            snprintf(
                s->reason, sizeof(s->reason), "%s%.140s",
                r == GF_LOGS_SRC_END ? "done" : "error: ", r == GF_LOGS_SRC_END ? "" : s->tail.err);
        }
        s->src_done = 1;
        s->final = 1;
        s->eof = 1;
        return READ_AGAIN;
    }
    if (ev.dropped > 0) {
        gf_logs_chunk_discard(&s->ch); /* its partial line is among the dropped ones */
        gf_logs_chunk_gap(&s->ch, now, ev.dropped, 0, 0);
    }
    if (ev.switched || ev.truncated) {
        s->final = 1; /* the old file's last partial line is a line */
        s->pend_trunc |= ev.truncated;
    }
    return ev.again ? READ_AGAIN : 0;
}

/* The input is empty after a final run. Returns 1 if the stream has another step to do. */
static int after_final(struct stream *s, int64_t now)
{
    s->final = 0;
    if (s->pend_trunc) {
        s->pend_trunc = 0;
        gf_logs_chunk_gap(&s->ch, now, 0, 1, 0);
        return 1;
    }
    if (s->src_done) {
        end(s, s->reason, now);
        return 1;
    }
    return 0;
}

/* Nothing pending: end, run the chunker, read. Returns 0 to go on, else the wake time. */
static int64_t step(struct gf_logs *ls, struct stream *s, int64_t now)
{
    int64_t wait = 0;
    ssize_t r;

    if (s->stop_seen) {
        end(s, "stopped", now);
        return 0;
    }
    if (now >= s->deadline) {
        end(s, "max_duration", now);
        return 0;
    }
    switch (gf_logs_chunk_run(&s->ch, now, s->final, &wait)) {
    case GF_LOGS_RUN_SEALED:
        return 0;
    case GF_LOGS_RUN_LIMITED:
        if (gf_logs_chunk_seal_old(&s->ch, now, 0)) {
            return 0;
        }
        return min64(min64(now + wait, gf_logs_chunk_flush_at(&s->ch)), s->deadline);
    case GF_LOGS_RUN_INPUT:
        break;
    }
    if (s->final && after_final(s, now)) {
        return 0;
    }
    r = source_read(s, now);
    if (r != 0) {
        return 0;
    }
    s->eof = 1;
    if (gf_logs_chunk_seal_old(&s->ch, now, 1)) {
        return 0;
    }
    s->want_fd = s->journal && s->jr.out_fd >= 0;
    return min64(min64(now + ls->poll_ms, gf_logs_chunk_flush_at(&s->ch)), s->deadline);
}

/* Service s; returns when it wants to be serviced again. */
static int64_t service(struct gf_logs *ls, struct stream *s, int64_t now, int kicked)
{
    s->want_fd = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int64_t at;
        if (s->gone) {
            if (!s->journal || gf_logs_journal_reap(&s->jr, now)) {
                s->finished = 1;
                return now;
            }
            return now + REAP_MS;
        }
        if (s->stop_seen && !s->ended) {
            s->end_by = min64(s->end_by, now + GF_LOGS_END_GRACE_MS);
        }
        if (s->ch.sealed) {
            if (now >= s->end_by) {
                gf_log_warn("log stream given up: its chunks cannot be published", "stream=%s",
                            s->id);
                gf_logs_chunk_done(&s->ch, 0);
                s->gone = 1;
                continue;
            }
            if ((!kicked && now < s->retry_at) || !offer(ls, s, now)) {
                return min64(s->retry_at, s->end_by);
            }
            continue;
        }
        at = step(ls, s, now);
        if (at != 0) {
            return at;
        }
    }
    return now;
}

/* ---- the thread ---- */

/* Shutting down: offer what is sealed and a "stopped" end once each, then free. */
static void shutdown_stream(struct gf_logs *ls, struct stream *s)
{
    for (int i = 0; i < 2 && !s->gone; i++) {
        if (!s->ch.sealed && !s->ended) {
            end(s, "stopped", now_ms());
        }
        if (s->ch.sealed && !offer(ls, s, now_ms())) {
            gf_logs_chunk_done(&s->ch, 0);
            s->gone = s->ended;
        }
    }
    stream_free(s);
}

static void remove_finished(struct gf_logs *ls)
{
    struct stream *dead[GF_LOGS_STREAMS_HARD];
    size_t nd = 0, k = 0;

    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->s[i]->finished) {
            dead[nd++] = ls->s[i];
        } else {
            ls->s[k++] = ls->s[i];
        }
    }
    ls->n = k;
    ls->st.running = k;
    pthread_mutex_unlock(&ls->mu);
    for (size_t i = 0; i < nd; i++) {
        gf_log_info("log stream finished", "stream=%s", dead[i]->id);
        stream_free(dead[i]);
    }
}

static void sleep_until(struct gf_logs *ls, struct stream **v, size_t n, int64_t next)
{
    struct pollfd pfd[GF_LOGS_STREAMS_HARD + 1];
    nfds_t np = 1;
    int64_t left = next - now_ms();
    char buf[64];

    if (left <= 0) {
        return;
    }
    pfd[0].fd = ls->wake[0];
    pfd[0].events = POLLIN;
    for (size_t i = 0; i < n; i++) {
        if (v[i]->want_fd) {
            pfd[np].fd = v[i]->jr.out_fd;
            pfd[np].events = POLLIN;
            np++;
        }
    }
    if (poll(pfd, np, (int)min64(left, IDLE_MS)) > 0 && (pfd[0].revents & POLLIN)) {
        while (read(ls->wake[0], buf, sizeof(buf)) > 0) {
        }
    }
}

static void *run(void *arg)
{
    struct gf_logs *ls = arg;
    struct stream *v[GF_LOGS_STREAMS_HARD];
    size_t n;

    for (;;) {
        int kicked, quit;
        int64_t now, next;
        pthread_mutex_lock(&ls->mu);
        n = ls->n;
        for (size_t i = 0; i < n; i++) {
            v[i] = ls->s[i];
            v[i]->stop_seen = v[i]->stop;
        }
        quit = ls->quit;
        kicked = ls->kicked;
        ls->kicked = 0;
        pthread_mutex_unlock(&ls->mu);
        if (quit) {
            break;
        }
        now = now_ms();
        next = now + IDLE_MS;
        for (size_t i = 0; i < n; i++) {
            next = min64(next, service(ls, v[i], now, kicked));
        }
        remove_finished(ls);
        sleep_until(ls, v, n, next);
    }
    for (size_t i = 0; i < n; i++) {
        shutdown_stream(ls, v[i]);
    }
    return NULL;
}

/* ---- public ---- */

static enum gf_err check_opts(const struct gf_logs_opts *o, struct gf_diag *diag)
{
    if (o->publish == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "publish", "publish callback missing");
    }
    if (o->rate_lines < 1 || o->rate_bytes < 1) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "log_rate_lines",
                           "log_rate_lines and log_rate_bytes must be at least 1");
    }
    if (o->streams_max < 1 || o->streams_max > GF_LOGS_STREAMS_HARD) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "log_streams_max", "log_streams_max must be 1..%ld",
                           GF_LOGS_STREAMS_HARD);
    }
    if (o->chunk_bytes > GF_LOGS_CHUNK_BYTES_MAX || o->flush_ms < 0 || o->poll_ms < 0) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "chunk_bytes",
                           "chunk_bytes at most %u, flush_ms and poll_ms not negative",
                           GF_LOGS_CHUNK_BYTES_MAX);
    }
    return GF_OK;
}

static enum gf_err start_thread(struct gf_logs *ls)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the agent's other threads */
    rc = pthread_create(&ls->th, NULL, run, ls);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? GF_OK : GF_ERR_IO;
}

/* Free what gf_logs_new made (its thread not running, or joined). */
static void release(struct gf_logs *ls)
{
    if (ls->wake[0] >= 0) {
        close(ls->wake[0]);
        close(ls->wake[1]);
    }
    gf_logs_allow_free(ls->allow);
    gf_free(ls->journalctl);
    pthread_mutex_destroy(&ls->mu);
    gf_free(ls);
}

enum gf_err gf_logs_new(const struct gf_logs_opts *opts, struct gf_logs **out, struct gf_diag *diag)
{
    struct gf_logs *ls = NULL;
    enum gf_err err = check_opts(opts, diag);

    if (err != GF_OK) {
        return err;
    }
    ls = gf_calloc(1, sizeof(*ls));
    if (ls == NULL) {
        return GF_ERR_NOMEM;
    }
    ls->wake[0] = ls->wake[1] = -1;
    pthread_mutex_init(&ls->mu, NULL);
    ls->publish = opts->publish;
    ls->ud = opts->ud;
    ls->rate_lines = opts->rate_lines;
    ls->rate_bytes = opts->rate_bytes;
    ls->streams_max = opts->streams_max;
    ls->chunk_bytes = opts->chunk_bytes > 0 ? opts->chunk_bytes : GF_LOGS_CHUNK_BYTES;
    ls->flush_ms = opts->flush_ms > 0 ? opts->flush_ms : GF_LOGS_FLUSH_MS;
    ls->poll_ms = opts->poll_ms > 0 ? opts->poll_ms : GF_LOGS_POLL_MS;
    ls->behind_max = opts->behind_max > 0 ? opts->behind_max : GF_LOGS_BEHIND_MAX;
    err = gf_logs_allow_new(opts->files, opts->units, &ls->allow, diag);
    if (err == GF_OK && opts->journalctl != NULL) {
        ls->journalctl = gf_strdup(opts->journalctl);
        err = ls->journalctl != NULL ? GF_OK : GF_ERR_NOMEM;
    }
    if (err == GF_OK && pipe(ls->wake) != 0) {
        ls->wake[0] = ls->wake[1] = -1;
        err = gf_diag_set(diag, GF_ERR_IO, "pipe", "pipe: %s", strerror(errno));
    }
    if (err == GF_OK) {
        fcntl(ls->wake[0], F_SETFL, O_NONBLOCK);
        fcntl(ls->wake[1], F_SETFL, O_NONBLOCK);
        fcntl(ls->wake[0], F_SETFD, FD_CLOEXEC);
        fcntl(ls->wake[1], F_SETFD, FD_CLOEXEC);
        err = start_thread(ls);
    }
    if (err != GF_OK) {
        release(ls);
        return err;
    }
    *out = ls;
    return GF_OK;
}

void gf_logs_free(struct gf_logs *ls)
{
    if (ls == NULL) {
        return;
    }
    pthread_mutex_lock(&ls->mu);
    ls->quit = 1;
    pthread_mutex_unlock(&ls->mu);
    wake(ls);
    pthread_join(ls->th, NULL);
    release(ls);
}

static int id_ok(const char id[64])
{
    size_t n = strnlen(id, 64);

    if (n == 0 || n > GF_LOGS_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static enum gf_err check_req(const struct gf_logs_req *r, struct gf_diag *diag)
{
    if (!id_ok(r->stream_id)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/stream_id",
                           "stream_id must be 1-%d characters of A-Z a-z 0-9 . _ -",
                           GF_LOGS_ID_MAX);
    }
    if ((r->path == NULL) == (r->unit == NULL)) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/path", "exactly one of path and unit");
    }
    if (r->past_lines < 0 || r->past_lines > GF_LOGS_PAST_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/past_lines", "past_lines must be 0..%ld",
                           GF_LOGS_PAST_MAX);
    }
    if (r->max_duration_ms < GF_LOGS_DURATION_MIN || r->max_duration_ms > GF_LOGS_DURATION_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "/max_duration_ms",
                           "max_duration_ms must be %ld..%ld", GF_LOGS_DURATION_MIN,
                           GF_LOGS_DURATION_MAX);
    }
    return GF_OK;
}

/* Under ls->mu: may a stream with this id start? */
static enum gf_err admit(const struct gf_logs *ls, const char *id, struct gf_diag *diag)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->s[i]->id, id) == 0) {
            return gf_diag_set(diag, GF_ERR_EXISTS, "/stream_id", "stream %s is running", id);
        }
    }
    if ((long)ls->n >= ls->streams_max) {
        return gf_diag_set(diag, GF_ERR_RATELIMIT, "/stream_id",
                           "%ld log streams are running (log_streams_max)", ls->streams_max);
    }
    return GF_OK;
}

/* Open the request's source into s. */
static enum gf_err open_source(struct gf_logs *ls, struct stream *s, const struct gf_logs_req *r,
                               struct gf_diag *diag)
{
    char canon[PATH_MAX];
    enum gf_err err;
    int fd = -1;

    if (r->unit != NULL) {
        err = gf_logs_allow_unit(ls->allow, r->unit, diag);
        if (err == GF_OK) {
            err = gf_logs_journal_spawn(&s->jr, ls->journalctl, r->unit, r->past_lines, s->follow,
                                        diag);
        }
        s->journal = err == GF_OK;
        return err;
    }
    err = gf_logs_allow_open(ls->allow, r->path, canon, sizeof(canon), &fd, diag);
    if (err == GF_OK) {
        err = gf_logs_tail_open(&s->tail, fd, canon, ls->allow, r->past_lines, s->follow,
                                ls->behind_max);
        if (err != GF_OK) {
            gf_diag_set(diag, err, "/path", "cannot read %.200s", canon);
        }
    }
    return err;
}

enum gf_err gf_logs_start(struct gf_logs *ls, const struct gf_logs_req *req, struct gf_diag *diag)
{
    struct gf_logs_chunk_cfg cfg;
    struct stream *s = NULL;
    enum gf_err err = check_req(req, diag);

    if (err != GF_OK) {
        return err;
    }
    pthread_mutex_lock(&ls->mu);
    err = admit(ls, req->stream_id, diag);
    pthread_mutex_unlock(&ls->mu);
    if (err != GF_OK) {
        return err;
    }
    s = gf_calloc(1, sizeof(*s));
    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    s->tail.fd = -1;
    s->jr.pid = -1;
    s->jr.out_fd = s->jr.err_fd = -1;
    snprintf(s->id, sizeof(s->id), "%s", req->stream_id);
    s->follow = req->follow != 0;
    cfg = (struct gf_logs_chunk_cfg){s->id,        req->filter,    ls->chunk_bytes,
                                     ls->flush_ms, ls->rate_lines, ls->rate_bytes};
    err = gf_logs_chunk_init(&s->ch, &cfg, diag);
    if (err == GF_OK) {
        err = open_source(ls, s, req, diag);
    }
    if (err == GF_OK) {
        int64_t now = now_ms();
        s->deadline = now + req->max_duration_ms;
        s->end_by = s->deadline + GF_LOGS_END_GRACE_MS;
        pthread_mutex_lock(&ls->mu);
        err = admit(ls, req->stream_id, diag); /* again: another start may have raced */
        if (err == GF_OK) {
            /* Logged before the stream is published: from then on the thread owns s and
             * may finish and free it before this function goes on. */
            gf_log_info("log stream started", "stream=%s source=%.200s past=%ld follow=%d",
                        s->id, s->journal ? req->unit : s->tail.path, req->past_lines,
                        s->follow);
            ls->s[ls->n++] = s;
            ls->st.running = ls->n;
            ls->st.started++;
        }
        pthread_mutex_unlock(&ls->mu);
    }
    if (err != GF_OK) {
        stream_free(s);
        return err;
    }
    wake(ls);
    return GF_OK;
}

enum gf_err gf_logs_stop(struct gf_logs *ls, const char *stream_id)
{
    enum gf_err err = GF_ERR_NOTFOUND;

    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->s[i]->id, stream_id) == 0) {
            ls->s[i]->stop = 1;
            err = GF_OK;
        }
    }
    pthread_mutex_unlock(&ls->mu);
    if (err == GF_OK) {
        wake(ls);
    }
    return err;
}

void gf_logs_kick(struct gf_logs *ls)
{
    pthread_mutex_lock(&ls->mu);
    ls->kicked = 1;
    pthread_mutex_unlock(&ls->mu);
    wake(ls);
}

void gf_logs_stats(struct gf_logs *ls, struct gf_logs_stats *out)
{
    pthread_mutex_lock(&ls->mu);
    *out = ls->st;
    pthread_mutex_unlock(&ls->mu);
}
