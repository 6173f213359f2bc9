/* SPDX-License-Identifier: Apache-2.0
 *
 * alloc.h - the allocator every gatefleet module goes through.
 *
 * Thin wrappers over malloc/calloc/realloc/free, so test builds can make the Nth allocation
 * fail (gf_alloc_fail_after) and prove that every caller returns GF_ERR_NOMEM cleanly
 * instead of crashing (the "torture" tests of curl). Thread-safe.
 */
#ifndef GF_COMMON_ALLOC_H
#define GF_COMMON_ALLOC_H

#include <stddef.h>

void *gf_malloc(size_t n);
void *gf_calloc(size_t count, size_t n);
void *gf_realloc(void *p, size_t n);
void gf_free(void *p);
char *gf_strdup(const char *s);

/* Test hook: after n more successful allocations every allocation fails; n < 0 disables.
 * Returns how many allocations have succeeded since the last call. */
long gf_alloc_fail_after(long n);

#endif
