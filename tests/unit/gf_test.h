/* SPDX-License-Identifier: Apache-2.0
 *
 * gf_test.h - the tiny test helper every unit test uses: CHECK macros that count and report
 * failures with file:line, and a summary line CTest output shows ("N passed, N failed").
 */
#ifndef GF_TEST_H
#define GF_TEST_H

#include <stdio.h>
#include <string.h>

static int gf_test_pass, gf_test_fail;

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (cond) {                                                                             \
            gf_test_pass++;                                                                     \
        } else {                                                                                \
            gf_test_fail++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *a_ = (a), *b_ = (b);                                                        \
        if (a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0) {                                  \
            gf_test_pass++;                                                                     \
        } else {                                                                                \
            gf_test_fail++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,  \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
        }                                                                                       \
    } while (0)

static inline int gf_test_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, gf_test_pass, gf_test_fail);
    return gf_test_fail == 0 ? 0 : 1;
}

#endif
