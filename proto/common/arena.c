/* SPDX-License-Identifier: Apache-2.0
 *
 * arena.c - chunked bump allocator. Chunks are 8 KiB or the size of a larger request;
 * they form a singly linked list freed at once.
 */
#include "arena.h"

#include "alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_DEFAULT 8192u
#define ALIGN 16u

struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct gf_arena {
    struct chunk *head;
    size_t cap;
    size_t total;
};

struct gf_arena *gf_arena_new(size_t cap)
{
    struct gf_arena *a = gf_calloc(1, sizeof(*a));

    if (a != NULL) {
        a->cap = cap;
    }
    return a;
}

void gf_arena_free(struct gf_arena *a)
{
    if (a == NULL) {
        return;
    }
    struct chunk *c = a->head;
    while (c != NULL) {
        struct chunk *next = c->next;
        gf_free(c);
        c = next;
    }
    gf_free(a);
}

void *gf_arena_alloc(struct gf_arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct chunk *c = a->head;

    if (n == 0) {
        need = ALIGN;
    }
    if (need < n || a->total + need > a->cap) {
        return NULL;
    }
    if (c == NULL || c->size - c->used < need) {
        size_t size = need > CHUNK_DEFAULT ? need : CHUNK_DEFAULT;
        c = gf_malloc(sizeof(*c) + size);
        if (c == NULL) {
            return NULL;
        }
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, n);
    return p;
}

char *gf_arena_strndup(struct gf_arena *a, const char *s, size_t n)
{
    char *d = gf_arena_alloc(a, n + 1);

    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *gf_arena_strdup(struct gf_arena *a, const char *s)
{
    return gf_arena_strndup(a, s, strlen(s));
}

char *gf_arena_printf(struct gf_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *d;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return NULL;
    }
    d = gf_arena_alloc(a, (size_t)n + 1);
    if (d == NULL) {
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

size_t gf_arena_used(const struct gf_arena *a)
{
    return a->total;
}
