/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz.h - the libFuzzer entry point every fuzz target defines. The same target links either
 * with -fsanitize=fuzzer (clang) or with replay.c, which feeds it each file of a corpus so
 * CTest can run the corpora under gcc and ASan.
 */
#ifndef GF_TESTS_FUZZ_H
#define GF_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
