/* SPDX-License-Identifier: Apache-2.0
 *
 * sse.c - event-stream responses (see sse.h) on libmicrohttpd's suspend/resume.
 *
 * Per stream: a pending buffer (what the source produced and the client has not taken),
 * the MHD connection, and a small state under the stream's mutex: suspended or not, closed
 * or not. reader() is libmicrohttpd's content callback; when neither the buffer, the source,
 * a due heartbeat nor the end has anything, it suspends the connection under the mutex,
 * unless a wake came in meanwhile (the `woken` flag, cleared before asking the source), so
 * no wake-up is lost. gf_sse_wake() resumes under the same mutex. Lock order: hub, then
 * stream; the source's own locks (the event ring) are never taken while the stream mutex is
 * held, and the ring calls gf_sse_wake() under its lock: ring, then stream.
 *
 * The hub's thread wakes streams whose heartbeat or maximum duration is due, and every
 * stream when the server stops. A stream's memory: its struct, the buffer (freed when
 * drained, so an idle stream holds none), MHD's connection pool (64 KiB).
 */
#define GF_LOG_MODULE "sse"
#include "sse.h"

#include "req_impl.h"

#include "../core/app.h"
#include "../store/db.h"
#include "alloc.h"
#include "log.h"
#include "timefmt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct gf_sse {
    struct gf_sse_hub *hub;
    struct MHD_Connection *conn;
    const struct gf_sse_source *src;
    void *state;
    pthread_mutex_t mu;
    int suspended; /* under mu */
    int closed;    /* under mu: the response is gone, never resume */
    atomic_int woken;
    struct gf_buf out;
    size_t off; /* bytes of out already handed to MHD */
    int ending; /* the source or the server ended the stream: flush, then end */
    atomic_llong last_write_us;
    int64_t end_us;             /* sse_max_duration */
    struct gf_sse *prev, *next; /* hub registry */
};

struct gf_sse_hub {
    struct gf_app *app;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t ticker;
    atomic_int stopping;
    struct gf_sse *streams;
    long limit, count; /* under mu */
    int64_t heartbeat_us;
    atomic_ullong opened, refused, ended;
};

/* ------------------------------------------------------------------ waking */

void gf_sse_wake(void *sse)
{
    struct gf_sse *s = sse;

    pthread_mutex_lock(&s->mu);
    atomic_store(&s->woken, 1);
    if (s->suspended && !s->closed) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Suspend unless woken since the flag was cleared: 1 suspended, 0 go round again. */
static int sleep_unless_woken(struct gf_sse *s)
{
    int slept = 0;

    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->woken)) {
        MHD_suspend_connection(s->conn);
        s->suspended = 1;
        slept = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return slept;
}

/* ------------------------------------------------------------------ the body */

static ssize_t hand_over(struct gf_sse *s, char *buf, size_t max)
{
    size_t n = s->out.len - s->off;

    if (n > max) {
        n = max;
    }
    memcpy(buf, s->out.data + s->off, n);
    s->off += n;
    if (s->off == s->out.len) {
        s->off = 0;
        s->out.len = 0;
        if (s->out.alloc > 4096) {
            gf_buf_free(&s->out); /* an idle stream holds no buffer */
        }
    }
    atomic_store(&s->last_write_us, gf_time_mono_us());
    return (ssize_t)n;
}

/* Fill the buffer: the source, else a due heartbeat. 0 when there is nothing. */
static size_t produce(struct gf_sse *s)
{
    int64_t now = gf_time_mono_us();

    if (atomic_load(&s->hub->stopping) || now >= s->end_us) {
        s->ending = 1;
        return 0;
    }
    if (s->src->next(s->state, &s->out) != GF_OK) {
        s->ending = 1;
    }
    if (s->out.len == 0 && !s->ending &&
        now - atomic_load(&s->last_write_us) >= s->hub->heartbeat_us &&
        gf_buf_puts(&s->out, ": keepalive\n\n") != GF_OK) {
        s->ending = 1;
    }
    return s->out.len;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct gf_sse *s = cls;

    (void)pos;
    for (;;) {
        if (s->out.len > s->off) {
            return hand_over(s, buf, max);
        }
        if (s->ending) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        atomic_store(&s->woken, 0);
        if (produce(s) > 0) {
            continue;
        }
        if (s->ending) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (sleep_unless_woken(s)) {
            return 0;
        }
    }
}

static void hub_remove(struct gf_sse_hub *hub, struct gf_sse *s)
{
    pthread_mutex_lock(&hub->mu);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else if (hub->streams == s) {
        hub->streams = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    hub->count--;
    pthread_mutex_unlock(&hub->mu);
}

static void stream_free(struct gf_sse *s)
{
    hub_remove(s->hub, s);
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_mutex_unlock(&s->mu);
    if (s->src != NULL) {
        s->src->close(s->state); /* no wake for s after this */
    }
    atomic_fetch_add(&s->hub->ended, 1);
    gf_buf_free(&s->out);
    pthread_mutex_destroy(&s->mu);
    gf_free(s);
}

static void reader_free(void *cls)
{
    stream_free(cls);
}

/* ------------------------------------------------------------------ requests */

int gf_sse_parse_id(const char *text, uint64_t *out)
{
    size_t n = strlen(text);
    char *end = NULL;

    if (n == 0 || n > 19 || strspn(text, "0123456789") != n) {
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

enum gf_err gf_sse_last_event_id(struct gf_req *r, const char *what, uint64_t *after,
                                 int *present)
{
    const char *header = gf_req_header(r, "Last-Event-ID");
    const char *resume = header != NULL && header[0] != '\0' ? header
                                                              : gf_req_query(r, "last_event_id");

    *after = 0;
    if (present != NULL) {
        *present = resume != NULL;
    }
    if (resume != NULL && gf_sse_parse_id(resume, after) != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, resume == header ? "Last-Event-ID" : "last_event_id",
                           "the last event id must be %s", what);
    }
    return GF_OK;
}

enum gf_err gf_sse_open(struct gf_req *r, struct gf_sse **out)
{
    struct gf_sse_hub *hub = r->app->sse;
    struct gf_sse *s;
    int full;

    if (hub == NULL) {
        return gf_req_fail(r, GF_ERR_UNAVAILABLE, "", "event streams are not available");
    }
    pthread_mutex_lock(&hub->mu);
    full = atomic_load(&hub->stopping) || hub->count >= hub->limit;
    if (!full) {
        hub->count++;
    }
    pthread_mutex_unlock(&hub->mu);
    if (full) {
        atomic_fetch_add(&hub->refused, 1);
        gf_req_add_header(r, "Retry-After", "5");
        return gf_req_fail(r, GF_ERR_UNAVAILABLE, "",
                           "this server already serves its maximum of event streams; "
                           "try again later");
    }
    if ((s = gf_calloc(1, sizeof(*s))) == NULL) {
        pthread_mutex_lock(&hub->mu);
        hub->count--;
        pthread_mutex_unlock(&hub->mu);
        return GF_ERR_NOMEM;
    }
    s->hub = hub;
    s->conn = r->conn;
    pthread_mutex_init(&s->mu, NULL);
    gf_buf_init(&s->out, (size_t)r->app->cfg.sse_client_buffer);
    r->sse = s;
    *out = s;
    return GF_OK;
}

enum gf_err gf_sse_start(struct gf_req *r, struct gf_sse *s, const struct gf_sse_source *src,
                         void *state)
{
    s->src = src;
    s->state = state;
    if (gf_buf_printf(&s->out, "retry: %d\n: gatefleet %s stream\n\n", GF_SSE_RETRY_MS,
                      src->name) != GF_OK) {
        return GF_ERR_NOMEM; /* state is closed with the unsent stream (gf_sse_queue) */
    }
    r->status = 200;
    r->resp_type = "text/event-stream";
    return GF_OK;
}

int gf_sse_queue(struct gf_req *r, enum MHD_Result *ret)
{
    struct gf_sse *s = r->sse;
    struct gf_sse_hub *hub = s->hub;
    struct MHD_Response *resp = NULL;

    r->sse = NULL;
    if (s->src == NULL || r->status != 200 ||
        (resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, GF_SSE_BLOCK_BYTES, reader, s,
                                                  reader_free)) == NULL) {
        stream_free(s); /* not streamed: release the slot and the source */
        if (r->status == 200) {
            r->status = 0; /* the caller answers a problem */
        }
        return 0;
    }
    if (r->db != NULL) {
        gf_db_release(r->app->db, r->db); /* a stream may last hours: no pooled connection */
        r->db = NULL;
    }
    int64_t now = gf_time_mono_us();
    atomic_store(&s->last_write_us, now);
    s->end_us = now + (int64_t)r->app->cfg.sse_max_duration * 1000000;
    pthread_mutex_lock(&hub->mu);
    s->next = hub->streams;
    if (hub->streams != NULL) {
        hub->streams->prev = s;
    }
    hub->streams = s;
    pthread_mutex_unlock(&hub->mu);
    atomic_fetch_add(&hub->opened, 1);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* A client that takes nothing while data waits is dropped after this; a suspended
     * (idle) stream never times out, and heartbeats end each idle period. */
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)r->app->cfg.sse_stall_timeout);
    *ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp); /* reader_free runs when the connection lets go of it */
    return 1;
}

enum gf_err gf_sse_message(struct gf_buf *out, const char *id, const char *event, const char *data)
{
    const char *fields[3] = {id, event, data};

    for (int i = 0; i < 3; i++) {
        if (fields[i] != NULL && strpbrk(fields[i], "\r\n") != NULL) {
            return GF_ERR_INVAL;
        }
    }
    return gf_buf_printf(out, "%s%s%s%s%s%sdata: %s\n\n", id ? "id: " : "", id ? id : "",
                         id ? "\n" : "", event ? "event: " : "", event ? event : "",
                         event ? "\n" : "", data);
}

/* ------------------------------------------------------------------ the hub */

/* Every second: wake the streams whose heartbeat or end is due (all when stopping). */
static void *ticker_main(void *arg)
{
    struct gf_sse_hub *hub = arg;

    pthread_mutex_lock(&hub->mu);
    while (!atomic_load(&hub->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&hub->cv, &hub->mu, &ts);
        int64_t now = gf_time_mono_us();
        for (struct gf_sse *s = hub->streams; s != NULL; s = s->next) {
            if (atomic_load(&hub->stopping) || now >= s->end_us ||
                now - atomic_load(&s->last_write_us) >= hub->heartbeat_us) {
                gf_sse_wake(s);
            }
        }
    }
    pthread_mutex_unlock(&hub->mu);
    return NULL;
}

/* Fit the stream limit and MHD's connection limit in RLIMIT_NOFILE (raised if it helps). */
static unsigned plan_fds(struct gf_app *app, long *limit)
{
    struct rlimit rl;
    rlim_t reserve = (rlim_t)app->cfg.db_pool_size + 64u; /* pool, listeners, files */
    rlim_t need = (rlim_t)*limit + GF_SSE_OTHER_CONNECTIONS + reserve;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return (unsigned)*limit + GF_SSE_OTHER_CONNECTIONS;
    }
    if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            gf_log_info("raised the open file limit", "from=%llu to=%llu", (unsigned long long)was,
                        (unsigned long long)rl.rlim_cur);
        } else {
            rl.rlim_cur = was;
        }
    }
    if (rl.rlim_cur >= need) {
        return (unsigned)*limit + GF_SSE_OTHER_CONNECTIONS;
    }
    rlim_t avail = rl.rlim_cur > reserve + 2 ? rl.rlim_cur - reserve : 2;
    rlim_t other = avail / 2 < GF_SSE_OTHER_CONNECTIONS ? avail / 2 : GF_SSE_OTHER_CONNECTIONS;
    long was = *limit;
    *limit = (long)(avail - other);
    gf_log_warn("open file limit too low for sse_max_clients; fewer event streams",
                "nofile=%llu sse_max_clients=%ld streams=%ld other_connections=%llu",
                (unsigned long long)rl.rlim_cur, was, *limit, (unsigned long long)other);
    return (unsigned)(*limit + (long)other);
}

enum gf_err gf_sse_hub_new(struct gf_app *app, unsigned *conn_limit, struct gf_sse_hub **out)
{
    struct gf_sse_hub *hub = gf_calloc(1, sizeof(*hub));

    if (hub == NULL) {
        return GF_ERR_NOMEM;
    }
    hub->app = app;
    hub->limit = app->cfg.sse_max_clients;
    hub->heartbeat_us = (int64_t)app->cfg.sse_heartbeat * 1000000;
    pthread_mutex_init(&hub->mu, NULL);
    pthread_cond_init(&hub->cv, NULL);
    *conn_limit = plan_fds(app, &hub->limit);
    if (pthread_create(&hub->ticker, NULL, ticker_main, hub) != 0) {
        pthread_cond_destroy(&hub->cv);
        pthread_mutex_destroy(&hub->mu);
        gf_free(hub);
        return GF_ERR_IO;
    }
    *out = hub;
    return GF_OK;
}

void gf_sse_hub_shutdown(struct gf_sse_hub *hub)
{
    if (hub == NULL) {
        return;
    }
    pthread_mutex_lock(&hub->mu);
    atomic_store(&hub->stopping, 1);
    for (struct gf_sse *s = hub->streams; s != NULL; s = s->next) {
        gf_sse_wake(s);
    }
    pthread_cond_signal(&hub->cv);
    pthread_mutex_unlock(&hub->mu);
}

void gf_sse_hub_free(struct gf_sse_hub *hub)
{
    if (hub == NULL) {
        return;
    }
    gf_sse_hub_shutdown(hub);
    pthread_join(hub->ticker, NULL);
    if (hub->count != 0) {
        gf_log_warn("event streams left at exit", "count=%ld", hub->count);
    }
    pthread_cond_destroy(&hub->cv);
    pthread_mutex_destroy(&hub->mu);
    gf_free(hub);
}

enum gf_err gf_sse_hub_metrics(struct gf_sse_hub *hub, struct gf_buf *out)
{
    long count, limit;

    if (hub == NULL) {
        return GF_OK;
    }
    pthread_mutex_lock(&hub->mu);
    count = hub->count;
    limit = hub->limit;
    pthread_mutex_unlock(&hub->mu);
    return gf_buf_printf(
        out,
        "# HELP gf_sse_streams Event streams open (or being opened).\n"
        "# TYPE gf_sse_streams gauge\ngf_sse_streams %ld\n"
        "# HELP gf_sse_streams_limit Event streams this process serves at most.\n"
        "# TYPE gf_sse_streams_limit gauge\ngf_sse_streams_limit %ld\n"
        "# HELP gf_sse_opened_total Event streams started.\n"
        "# TYPE gf_sse_opened_total counter\ngf_sse_opened_total %llu\n"
        "# HELP gf_sse_ended_total Event streams ended (or claimed and not started).\n"
        "# TYPE gf_sse_ended_total counter\ngf_sse_ended_total %llu\n"
        "# HELP gf_sse_refused_total Event streams refused with 503 (limit or stopping).\n"
        "# TYPE gf_sse_refused_total counter\ngf_sse_refused_total %llu\n",
        count, limit, atomic_load(&hub->opened), atomic_load(&hub->ended),
        atomic_load(&hub->refused));
}
