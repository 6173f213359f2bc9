/* SPDX-License-Identifier: Apache-2.0
 *
 * ring.c - the bounded event ring and its cursors (see ring.h).
 *
 * Events live in a circular array addressed by a 64-bit position that only grows (entry p is
 * slot p % cap; the ring holds positions tail..head-1, in seq order). Cursors are grouped by
 * key in a small hash table, so that a push touches only its key's group (woken later by
 * gf_ring_wake) and an eviction flags only the cursors of its key that had not read it yet:
 * a reader of a quiet project is never "behind" because other projects were busy.
 */
#include "ring.h"

#include "alloc.h"
#include "ids.h"

#include <pthread.h>
#include <string.h>

#define NBUCKETS 256u

struct entry {
    uint64_t seq;
    char key[GF_RING_KEY_MAX];
    char kind[GF_RING_KIND_MAX];
    char *msg;
    size_t len;
};

struct group {
    char key[GF_RING_KEY_MAX];
    struct gf_ring_cursor *cursors; /* list through cursor->next */
    struct group *next;             /* hash chain */
    struct group *next_touched;
    int touched;
};

struct gf_ring_cursor {
    struct gf_ring *g;
    struct group *grp;
    struct gf_ring_cursor *prev, *next;
    uint64_t pos;
    uint64_t missed; /* highest seq of its key evicted before it read it (0: none) */
    gf_ring_wake_fn wake;
    void *arg;
};

struct gf_ring {
    pthread_mutex_t mu;
    struct entry *e;
    size_t cap, max_bytes, bytes, ncursors;
    uint64_t head, tail, horizon, last;
    uint64_t pushed, evicted, overruns;
    struct group *buckets[NBUCKETS];
    struct group *touched;
};

static unsigned hash_key(const char *key)
{
    return gf_hash_str(key) % NBUCKETS;
}

static struct group *find_group(struct gf_ring *g, const char *key)
{
    for (struct group *gr = g->buckets[hash_key(key)]; gr != NULL; gr = gr->next) {
        if (strcmp(gr->key, key) == 0) {
            return gr;
        }
    }
    return NULL;
}

static void free_group_if_idle(struct gf_ring *g, struct group *gr)
{
    if (gr->cursors != NULL || gr->touched) {
        return;
    }
    struct group **pp = &g->buckets[hash_key(gr->key)];
    while (*pp != gr) {
        pp = &(*pp)->next;
    }
    *pp = gr->next;
    gf_free(gr);
}

enum gf_err gf_ring_new(size_t max_events, size_t max_bytes, struct gf_ring **out)
{
    struct gf_ring *g;

    if (max_events == 0 || max_bytes == 0) {
        return GF_ERR_INVAL;
    }
    if ((g = gf_calloc(1, sizeof(*g))) == NULL) {
        return GF_ERR_NOMEM;
    }
    if ((g->e = gf_calloc(max_events, sizeof(*g->e))) == NULL) {
        gf_free(g);
        return GF_ERR_NOMEM;
    }
    pthread_mutex_init(&g->mu, NULL);
    g->cap = max_events;
    g->max_bytes = max_bytes;
    *out = g;
    return GF_OK;
}

void gf_ring_free(struct gf_ring *g)
{
    if (g == NULL) {
        return;
    }
    for (uint64_t p = g->tail; p < g->head; p++) {
        gf_free(g->e[p % g->cap].msg);
    }
    for (unsigned b = 0; b < NBUCKETS; b++) {
        while (g->buckets[b] != NULL) {
            struct group *gr = g->buckets[b];
            g->buckets[b] = gr->next;
            gf_free(gr);
        }
    }
    pthread_mutex_destroy(&g->mu);
    gf_free(g->e);
    gf_free(g);
}

/* Drop the oldest entry; flag the cursors of its key that had not read it. */
static void evict(struct gf_ring *g)
{
    struct entry *e = &g->e[g->tail % g->cap];
    struct group *gr = find_group(g, e->key);

    for (struct gf_ring_cursor *c = gr ? gr->cursors : NULL; c != NULL; c = c->next) {
        if (c->pos <= g->tail && e->seq > c->missed) {
            c->missed = e->seq;
        }
    }
    if (e->seq > g->horizon) {
        g->horizon = e->seq;
    }
    g->bytes -= e->len;
    gf_free(e->msg);
    e->msg = NULL;
    g->tail++;
    g->evicted++;
}

static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

enum gf_err gf_ring_push(struct gf_ring *g, uint64_t seq, const char *key, const char *kind,
                         const char *msg, size_t len)
{
    enum gf_err err = GF_OK;
    char *copy;

    if (len > g->max_bytes) {
        return GF_ERR_TOOBIG;
    }
    if ((copy = gf_malloc(len + 1)) == NULL) {
        return GF_ERR_NOMEM;
    }
    memcpy(copy, msg, len);
    copy[len] = '\0';
    pthread_mutex_lock(&g->mu);
    if (seq <= g->last || seq <= g->horizon) {
        err = GF_ERR_EXISTS;
        goto out;
    }
    while (g->head - g->tail >= g->cap || g->bytes + len > g->max_bytes) {
        evict(g);
    }
    struct entry *e = &g->e[g->head % g->cap];
    e->seq = seq;
    copy_cut(e->key, sizeof(e->key), key);
    copy_cut(e->kind, sizeof(e->kind), kind);
    e->msg = copy;
    e->len = len;
    copy = NULL;
    g->bytes += len;
    g->head++;
    g->last = seq;
    g->pushed++;
    struct group *gr = find_group(g, e->key);
    if (gr != NULL && !gr->touched) {
        gr->touched = 1;
        gr->next_touched = g->touched;
        g->touched = gr;
    }
out:
    pthread_mutex_unlock(&g->mu);
    gf_free(copy);
    return err;
}

void gf_ring_wake(struct gf_ring *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->touched != NULL) {
        struct group *gr = g->touched;
        g->touched = gr->next_touched;
        gr->touched = 0;
        for (struct gf_ring_cursor *c = gr->cursors; c != NULL; c = c->next) {
            c->wake(c->arg);
        }
        free_group_if_idle(g, gr);
    }
    pthread_mutex_unlock(&g->mu);
}

void gf_ring_set_horizon(struct gf_ring *g, uint64_t seq)
{
    pthread_mutex_lock(&g->mu);
    if (seq > g->horizon) {
        g->horizon = seq;
    }
    pthread_mutex_unlock(&g->mu);
}

static uint64_t last_locked(const struct gf_ring *g)
{
    return g->last > g->horizon ? g->last : g->horizon;
}

uint64_t gf_ring_last(struct gf_ring *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t v = last_locked(g);
    pthread_mutex_unlock(&g->mu);
    return v;
}

/* First position in tail..head whose seq is above after (head when none). */
static uint64_t position_after(const struct gf_ring *g, uint64_t after)
{
    uint64_t lo = g->tail, hi = g->head;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (g->e[mid % g->cap].seq > after) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

enum gf_err gf_ring_open(struct gf_ring *g, const char *key, uint64_t after, gf_ring_wake_fn wake,
                         void *arg, struct gf_ring_cursor **out, int *covered)
{
    struct gf_ring_cursor *c = gf_calloc(1, sizeof(*c));
    struct group *gr;

    if (c == NULL) {
        return GF_ERR_NOMEM;
    }
    pthread_mutex_lock(&g->mu);
    if ((gr = find_group(g, key)) == NULL) {
        if ((gr = gf_calloc(1, sizeof(*gr))) == NULL) {
            pthread_mutex_unlock(&g->mu);
            gf_free(c);
            return GF_ERR_NOMEM;
        }
        copy_cut(gr->key, sizeof(gr->key), key);
        unsigned b = hash_key(gr->key);
        gr->next = g->buckets[b];
        g->buckets[b] = gr;
    }
    c->g = g;
    c->grp = gr;
    c->wake = wake;
    c->arg = arg;
    c->next = gr->cursors;
    if (gr->cursors != NULL) {
        gr->cursors->prev = c;
    }
    gr->cursors = c;
    g->ncursors++;
    if (after == GF_RING_NOW) {
        c->pos = g->head;
        *covered = 1;
    } else {
        *covered = after >= g->horizon;
        c->pos = *covered ? position_after(g, after) : g->tail;
    }
    pthread_mutex_unlock(&g->mu);
    *out = c;
    return GF_OK;
}

enum gf_err gf_ring_read(struct gf_ring_cursor *c, uint64_t min_seq, gf_ring_filter_fn filter,
                         void *arg, struct gf_buf *out, uint64_t *last)
{
    struct gf_ring *g = c->g;
    enum gf_err err = GF_OK;

    pthread_mutex_lock(&g->mu);
    if (c->missed > min_seq) {
        g->overruns++;
        err = GF_ERR_TOOBIG;
        goto out;
    }
    c->missed = 0; /* what was evicted, the reader already had */
    if (c->pos < g->tail) {
        c->pos = g->tail; /* only other keys' events were evicted */
    }
    for (; c->pos < g->head; c->pos++) {
        const struct entry *e = &g->e[c->pos % g->cap];
        if (e->seq <= min_seq || strcmp(e->key, c->grp->key) != 0 ||
            (filter != NULL && !filter(arg, e->kind))) {
            continue;
        }
        if (out->len + e->len > out->cap) {
            break; /* the next one does not fit: later */
        }
        if ((err = gf_buf_append(out, e->msg, e->len)) != GF_OK) {
            break;
        }
        *last = e->seq;
    }
out:
    pthread_mutex_unlock(&g->mu);
    return err;
}

uint64_t gf_ring_skip(struct gf_ring_cursor *c)
{
    struct gf_ring *g = c->g;

    pthread_mutex_lock(&g->mu);
    c->pos = g->head;
    c->missed = 0;
    uint64_t v = last_locked(g);
    pthread_mutex_unlock(&g->mu);
    return v;
}

void gf_ring_close(struct gf_ring_cursor *c)
{
    if (c == NULL) {
        return;
    }
    struct gf_ring *g = c->g;
    pthread_mutex_lock(&g->mu);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        c->grp->cursors = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    g->ncursors--;
    free_group_if_idle(g, c->grp);
    pthread_mutex_unlock(&g->mu);
    gf_free(c);
}

void gf_ring_stats(struct gf_ring *g, struct gf_ring_stats *out)
{
    pthread_mutex_lock(&g->mu);
    out->events = (size_t)(g->head - g->tail);
    out->bytes = g->bytes;
    out->cursors = g->ncursors;
    out->horizon = g->horizon;
    out->last = g->last;
    out->pushed = g->pushed;
    out->evicted = g->evicted;
    out->overruns = g->overruns;
    pthread_mutex_unlock(&g->mu);
}
