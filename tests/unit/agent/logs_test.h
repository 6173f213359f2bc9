/* SPDX-License-Identifier: Apache-2.0
 *
 * logs_test.h - helpers of the log stream tests (test_logs_tail.c, test_logs_stream.c): a
 * publish callback that parses every chunk with jansson (so each one must be valid JSON,
 * without NUL characters) and keeps it, and can refuse chunks like a disconnected broker;
 * a summary of one stream's chunks (lines with cut pieces joined, sequence check, gaps, the
 * end); temp directories and file writing.
 */
#ifndef GF_LOGS_TEST_H
#define GF_LOGS_TEST_H

#include "gf_test.h"
#include "logs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct collect {
    pthread_mutex_t mu;
    json_t *chunks;  /* every chunk taken, in order */
    int unavailable; /* answer GF_ERR_UNAVAILABLE */
    long refused;    /* chunks refused that way */
    long invalid;    /* chunks that did not parse or named another stream */
};

static inline enum gf_err collect_publish(void *ud, const char *id, const char *json, size_t len)
{
    struct collect *c = ud;
    json_error_t e;
    json_t *j;

    pthread_mutex_lock(&c->mu);
    if (c->unavailable) {
        c->refused++;
        pthread_mutex_unlock(&c->mu);
        return GF_ERR_UNAVAILABLE;
    }
    j = json_loadb(json, len, 0, &e);
    if (j == NULL || !json_is_string(json_object_get(j, "stream")) ||
        strcmp(json_string_value(json_object_get(j, "stream")), id) != 0) {
        c->invalid++;
        fprintf(stderr, "bad chunk (%s): %.300s\n", j == NULL ? e.text : "stream", json);
        json_decref(j);
    } else {
        json_array_append_new(c->chunks, j);
    }
    pthread_mutex_unlock(&c->mu);
    return GF_OK;
}

static inline void collect_init(struct collect *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->chunks = json_array();
}

static inline void collect_free(struct collect *c)
{
    json_decref(c->chunks);
    pthread_mutex_destroy(&c->mu);
}

static inline void collect_set_unavailable(struct collect *c, int on)
{
    pthread_mutex_lock(&c->mu);
    c->unavailable = on;
    pthread_mutex_unlock(&c->mu);
}

/* One stream's chunks, summed up. lines: the logical lines (cut pieces joined). */
struct summary {
    json_t *lines; /* array of strings, owned */
    size_t chunks;
    size_t pieces;    /* line elements */
    size_t max_piece; /* longest element, bytes */
    size_t cuts;      /* "cut" indices */
    int seq_ok;       /* seq 1, 2, 3 ... */
    int ended;        /* an "end":true chunk came, and it was the last */
    char reason[200];
    uint64_t dropped;
    uint64_t truncated;
    long trunc_at; /* index in lines of the first line after a "truncated" mark, or -1 */
};

static inline void summary_free(struct summary *s)
{
    json_decref(s->lines);
    s->lines = NULL;
}

static inline int in_list(json_t *arr, size_t idx)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (json_is_integer(v) && (size_t)json_integer_value(v) == idx) {
            return 1;
        }
    }
    return 0;
}

static inline void summarize(struct collect *c, const char *id, struct summary *s)
{
    size_t i;
    json_t *ch;
    int cont = 0;

    memset(s, 0, sizeof(*s));
    s->lines = json_array();
    s->seq_ok = 1;
    s->trunc_at = -1;
    pthread_mutex_lock(&c->mu);
    json_array_foreach(c->chunks, i, ch)
    {
        json_t *lines = json_object_get(ch, "lines"), *cut = json_object_get(ch, "cut");
        size_t k;
        json_t *l;
        if (strcmp(json_string_value(json_object_get(ch, "stream")), id) != 0) {
            continue;
        }
        s->chunks++;
        if (json_integer_value(json_object_get(ch, "seq")) != (json_int_t)s->chunks) {
            s->seq_ok = 0;
        }
        if (s->ended) {
            s->seq_ok = 0; /* nothing may follow the end */
        }
        s->dropped += (uint64_t)json_integer_value(json_object_get(ch, "dropped"));
        if (json_integer_value(json_object_get(ch, "truncated")) > 0) {
            s->truncated += (uint64_t)json_integer_value(json_object_get(ch, "truncated"));
            if (s->trunc_at < 0) {
                s->trunc_at = (long)json_array_size(s->lines);
            }
        }
        if (json_is_array(cut)) {
            s->cuts += json_array_size(cut);
        }
        json_array_foreach(lines, k, l)
        {
            const char *t = json_string_value(l);
            size_t n = json_string_length(l);
            s->pieces++;
            s->max_piece = n > s->max_piece ? n : s->max_piece;
            if (cont) {
                size_t last = json_array_size(s->lines) - 1;
                json_t *prev = json_array_get(s->lines, last);
                size_t pn = json_string_length(prev);
                char *joined = malloc(pn + n + 1);
                memcpy(joined, json_string_value(prev), pn);
                memcpy(joined + pn, t, n);
                json_array_set_new(s->lines, last, json_stringn(joined, pn + n));
                free(joined);
            } else {
                json_array_append_new(s->lines, json_stringn(t, n));
            }
            cont = json_is_array(cut) && in_list(cut, k);
        }
        if (json_is_true(json_object_get(ch, "end"))) {
            s->ended = 1;
            snprintf(s->reason, sizeof(s->reason), "%s",
                     json_string_value(json_object_get(ch, "reason")));
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static inline const char *line_at(const struct summary *s, size_t i)
{
    const char *v = json_string_value(json_array_get(s->lines, i));
    return v != NULL ? v : "(none)";
}

static inline int64_t t_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void t_sleep_ms(long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Wait (at most ms) until the stream has ended. */
static inline int wait_end(struct collect *c, const char *id, long ms, struct summary *s)
{
    int64_t until = t_now_ms() + ms;

    for (;;) {
        summarize(c, id, s);
        if (s->ended || t_now_ms() >= until) {
            return s->ended;
        }
        summary_free(s);
        t_sleep_ms(20);
    }
}

/* Wait (at most ms) until the stream has at least n logical lines. */
static inline int wait_lines(struct collect *c, const char *id, size_t n, long ms,
                             struct summary *s)
{
    int64_t until = t_now_ms() + ms;

    for (;;) {
        summarize(c, id, s);
        if (json_array_size(s->lines) >= n || t_now_ms() >= until) {
            return json_array_size(s->lines) >= n;
        }
        summary_free(s);
        t_sleep_ms(20);
    }
}

/* A fresh temp directory; path written to dir (cap bytes). */
static inline void t_mkdtemp(char *dir, size_t cap)
{
    const char *base = getenv("TMPDIR");

    snprintf(dir, cap, "%s/gflogsXXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void t_rm_rf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[4096];

    if (lstat(path, &st) != 0) {
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            int n = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            if (n > 0 && (size_t)n < sizeof(sub)) {
                t_rm_rf(sub);
            }
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(path);
}

/* Write (flags: O_TRUNC or O_APPEND) n bytes to path. */
static inline void t_write(const char *path, int flags, const char *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
    size_t off = 0;

    while (fd >= 0 && off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    if (fd < 0 || off != n) {
        perror(path);
        exit(2);
    }
    close(fd);
}

static inline void t_puts(const char *path, int flags, const char *s)
{
    t_write(path, flags, s, strlen(s));
}

/* Append lines "<prefix><i>\n" for i in [from, to). */
static inline void t_lines(const char *path, const char *prefix, int from, int to)
{
    char line[256];
    size_t cap = (size_t)(to - from) * (strlen(prefix) + 16) + 1, len = 0;
    char *buf = malloc(cap);

    for (int i = from; i < to; i++) {
        int n = snprintf(line, sizeof(line), "%s%d\n", prefix, i);
        memcpy(buf + len, line, (size_t)n);
        len += (size_t)n;
    }
    t_write(path, O_APPEND, buf, len);
    free(buf);
}

/* Check that lines [at, at + (to - from)) of s are "<prefix><from>" ... in order. */
static inline int t_expect(const struct summary *s, size_t at, const char *prefix, int from, int to)
{
    char want[256];

    for (int i = from; i < to; i++, at++) {
        snprintf(want, sizeof(want), "%s%d", prefix, i);
        if (strcmp(line_at(s, at), want) != 0) {
            fprintf(stderr, "line %zu: \"%.80s\", expected \"%s\"\n", at, line_at(s, at), want);
            return 0;
        }
    }
    return 1;
}

/* gf_logs_new(o) with its chunks collected in c (o->publish and o->ud are set here); the
 * test stops (exit 2) when that fails. */
static inline struct gf_logs *t_logs_new(struct collect *c, struct gf_logs_opts *o)
{
    struct gf_logs *ls = NULL;
    struct gf_diag d;

    o->publish = collect_publish;
    o->ud = c;
    collect_init(c);
    if (gf_logs_new(o, &ls, &d) != GF_OK) {
        fprintf(stderr, "gf_logs_new: %s %s\n", d.where, d.msg);
        exit(2);
    }
    return ls;
}

static inline struct gf_logs_req t_req(const char *id, const char *path, long past, int follow)
{
    struct gf_logs_req r;

    memset(&r, 0, sizeof(r));
    snprintf(r.stream_id, sizeof(r.stream_id), "%s", id);
    r.path = path;
    r.past_lines = past;
    r.follow = follow;
    r.max_duration_ms = 60000;
    return r;
}

#endif
