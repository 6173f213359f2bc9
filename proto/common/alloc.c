/* SPDX-License-Identifier: Apache-2.0
 *
 * alloc.c - allocation wrappers with a failure-injection counter for tests.
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_budget = -1; /* < 0: never fail */
static atomic_long count;

static int should_fail(void)
{
    long b = atomic_load(&fail_budget);

    if (b < 0) {
        return 0;
    }
    if (b == 0) {
        return 1;
    }
    atomic_fetch_sub(&fail_budget, 1);
    atomic_fetch_add(&count, 1);
    return 0;
}

long gf_alloc_fail_after(long n)
{
    long c = atomic_exchange(&count, 0);

    atomic_store(&fail_budget, n);
    return c;
}

void *gf_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

void *gf_calloc(size_t c, size_t n)
{
    return should_fail() ? NULL : calloc(c, n);
}

void *gf_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

void gf_free(void *p)
{
    free(p);
}

char *gf_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gf_malloc(n);

    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}
