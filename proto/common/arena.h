/* SPDX-License-Identifier: Apache-2.0
 *
 * arena.h - region allocator for per-request memory.
 *
 * Everything a request allocates comes from its arena and is released in one place,
 * gf_arena_free(), when the request completes. Allocations are 16-byte aligned. An arena
 * has a cap: an allocation that would pass it fails with NULL like an out-of-memory.
 * Not thread-safe: one arena belongs to one request.
 */
#ifndef GF_COMMON_ARENA_H
#define GF_COMMON_ARENA_H

#include <stddef.h>

struct gf_arena;

/* New arena that may hold at most cap bytes in total. Caller owns (free with gf_arena_free).
 * Returns NULL when out of memory. */
struct gf_arena *gf_arena_new(size_t cap);

/* Release the arena and everything allocated from it. NULL is a no-op. */
void gf_arena_free(struct gf_arena *a);

/* n bytes, zeroed. NULL when out of memory or over the cap. Borrowed (valid until
 * gf_arena_free). */
void *gf_arena_alloc(struct gf_arena *a, size_t n);

/* Copy of s (NUL-terminated) / of n bytes of s plus a NUL. NULL on failure. */
char *gf_arena_strdup(struct gf_arena *a, const char *s);
char *gf_arena_strndup(struct gf_arena *a, const char *s, size_t n);

/* printf into the arena. NULL on failure. */
char *gf_arena_printf(struct gf_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes handed out so far. */
size_t gf_arena_used(const struct gf_arena *a);

#endif
