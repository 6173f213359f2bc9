/* SPDX-License-Identifier: Apache-2.0
 *
 * timefmt.h - RFC 3339 timestamps: formatting now, and strict parsing of client input.
 */
#ifndef GF_COMMON_TIMEFMT_H
#define GF_COMMON_TIMEFMT_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

/* Current wall clock in microseconds since the epoch. */
int64_t gf_time_now_us(void);

/* Monotonic clock in microseconds (for durations). */
int64_t gf_time_mono_us(void);

/* Strict RFC 3339 ("2026-11-23T04:01:02Z", optional .fraction up to 6 digits, Z or +hh:mm)
 * into microseconds since the epoch. GF_ERR_INVAL when malformed. */
enum gf_err gf_time_parse_rfc3339(const char *s, int64_t *out_us);

/* Format microseconds since the epoch as "2026-11-23T04:01:02.123Z" (UTC, milliseconds) into
 * out (cap >= 25). */
void gf_time_format_rfc3339(int64_t us, char *out, size_t cap);

#endif
