/* SPDX-License-Identifier: Apache-2.0
 *
 * test_buf.c - bounded buffers and the request arena: caps hold, failed appends change
 * nothing, every allocation failure is reported.
 */
#include "alloc.h"
#include "arena.h"
#include "buf.h"
#include "gf_test.h"

#include <stdint.h>

int main(void)
{
    struct gf_buf b;

    gf_buf_init(&b, 10);
    CHECK(gf_buf_puts(&b, "hello") == GF_OK && b.len == 5);
    CHECK(gf_buf_printf(&b, "%d", 1234) == GF_OK && b.len == 9);
    CHECK(gf_buf_puts(&b, "xy") == GF_ERR_TOOBIG);
    CHECK(b.len == 9);
    CHECK_STR(b.data, "hello1234");
    CHECK(gf_buf_puts(&b, "!") == GF_OK && b.len == 10);
    size_t len;
    char *s = gf_buf_steal(&b, &len);
    CHECK(len == 10 && b.data == NULL && b.len == 0);
    gf_free(s);
    gf_buf_free(&b);

    gf_buf_init(&b, 1 << 20);
    gf_alloc_fail_after(0);
    CHECK(gf_buf_puts(&b, "x") == GF_ERR_NOMEM);
    gf_alloc_fail_after(-1);
    CHECK(b.len == 0);
    gf_buf_free(&b);

    struct gf_arena *a = gf_arena_new(64 * 1024);
    CHECK(a != NULL);
    char *p = gf_arena_strdup(a, "abc");
    CHECK_STR(p, "abc");
    CHECK(((uintptr_t)gf_arena_alloc(a, 3) % 16) == 0);
    CHECK(gf_arena_alloc(a, 100 * 1024) == NULL); /* over the cap */
    char *big = gf_arena_alloc(a, 20000);         /* larger than a chunk */
    CHECK(big != NULL);
    CHECK_STR(gf_arena_printf(a, "%s-%d", "n", 7), "n-7");
    CHECK(gf_arena_used(a) >= 20000);
    gf_arena_free(a);

    for (long k = 0; k < 6; k++) {
        gf_alloc_fail_after(k);
        struct gf_arena *x = gf_arena_new(1 << 20);
        void *q = x ? gf_arena_alloc(x, 10) : NULL;
        void *r = x ? gf_arena_alloc(x, 20000) : NULL;
        gf_alloc_fail_after(-1);
        CHECK(x == NULL || q != NULL || r == NULL);
        gf_arena_free(x);
    }
    return gf_test_summary("test_buf");
}
