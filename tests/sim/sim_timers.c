/* SPDX-License-Identifier: Apache-2.0
 *
 * sim_timers.c - one timer per virtual node (see sim.h): a binary min-heap of node
 * indices ordered by due time, with each node's position kept so re-arming and cancelling
 * are O(log n) and the heap never holds stale entries (its size is bounded by the node
 * count). The fleet mode's bundle steps, connect time-outs and reconnect delays live here,
 * so the epoll loop sleeps exactly until the next one is due instead of scanning nodes.
 */
#include "sim.h"

#include <stdlib.h>

struct gf_sim_timers {
    int n, len;
    int *heap; /* node indices, heap-ordered by due[] */
    int *pos;  /* node -> index in heap, -1 = not armed */
    int64_t *due;
};

struct gf_sim_timers *gf_sim_timers_new(int n)
{
    struct gf_sim_timers *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    t->n = n;
    t->heap = calloc((size_t)n + 1, sizeof(*t->heap));
    t->pos = calloc((size_t)n + 1, sizeof(*t->pos));
    t->due = calloc((size_t)n + 1, sizeof(*t->due));
    if (t->heap == NULL || t->pos == NULL || t->due == NULL) {
        gf_sim_timers_free(t);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        t->pos[i] = -1;
    }
    return t;
}

void gf_sim_timers_free(struct gf_sim_timers *t)
{
    if (t == NULL) {
        return;
    }
    free(t->heap);
    free(t->pos);
    free(t->due);
    free(t);
}

static void place(struct gf_sim_timers *t, int at, int idx)
{
    t->heap[at] = idx;
    t->pos[idx] = at;
}

static void sift_up(struct gf_sim_timers *t, int at)
{
    int idx = t->heap[at];

    while (at > 0) {
        int parent = (at - 1) / 2;
        if (t->due[t->heap[parent]] <= t->due[idx]) {
            break;
        }
        place(t, at, t->heap[parent]);
        at = parent;
    }
    place(t, at, idx);
}

static void sift_down(struct gf_sim_timers *t, int at)
{
    int idx = t->heap[at];

    for (;;) {
        int c = 2 * at + 1;
        if (c >= t->len) {
            break;
        }
        if (c + 1 < t->len && t->due[t->heap[c + 1]] < t->due[t->heap[c]]) {
            c++;
        }
        if (t->due[idx] <= t->due[t->heap[c]]) {
            break;
        }
        place(t, at, t->heap[c]);
        at = c;
    }
    place(t, at, idx);
}

void gf_sim_timers_set(struct gf_sim_timers *t, int idx, int64_t due_us)
{
    if (idx < 0 || idx >= t->n) {
        return;
    }
    t->due[idx] = due_us;
    if (t->pos[idx] < 0) {
        place(t, t->len++, idx);
        sift_up(t, t->len - 1);
        return;
    }
    sift_up(t, t->pos[idx]);
    sift_down(t, t->pos[idx]);
}

void gf_sim_timers_cancel(struct gf_sim_timers *t, int idx)
{
    if (idx < 0 || idx >= t->n || t->pos[idx] < 0) {
        return;
    }
    int at = t->pos[idx], last = t->heap[--t->len];

    t->pos[idx] = -1;
    if (at == t->len) {
        return;
    }
    place(t, at, last);
    sift_up(t, at);
    sift_down(t, t->pos[last]);
}

int64_t gf_sim_timers_next(const struct gf_sim_timers *t)
{
    return t->len > 0 ? t->due[t->heap[0]] : INT64_MAX;
}

int gf_sim_timers_pop(struct gf_sim_timers *t, int64_t now_us)
{
    if (t->len == 0 || t->due[t->heap[0]] > now_us) {
        return -1;
    }
    int idx = t->heap[0];

    gf_sim_timers_cancel(t, idx);
    return idx;
}
