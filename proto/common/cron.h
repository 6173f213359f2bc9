/* SPDX-License-Identifier: Apache-2.0
 *
 * cron.h - maintenance-window schedules: 5-field cron expressions evaluated on local
 * wall-clock time.
 *
 * A rollout notifies nodes only inside its maintenance windows, each given as
 * {"cron": "0 2 * * 1-5", "duration_minutes": 120, "timezone": "Europe/Moscow"}. A window
 * starts at every minute the expression matches and lasts duration_minutes. This module knows
 * nothing about time zones: the caller asks PostgreSQL for the local wall-clock time in the
 * window's zone (`now() AT TIME ZONE tz`) and passes it as a struct gf_cron_time. All
 * arithmetic here is on that naive wall clock (proleptic Gregorian calendar, every day 1440
 * minutes), so across a DST change in the caller's zone:
 *   - spring forward: wall-clock times in the skipped hour never occur. A window starting in
 *     the gap is never "just started"; gf_cron_window_open() still reports it open for any
 *     later wall-clock minute before start + duration, so a window shorter than the remaining
 *     gap is lost that day and a longer one is shortened by the gap. gf_cron_next() may
 *     return such a nonexistent time; the caller's conversion back to an instant decides
 *     where it lands.
 *   - fall back: the repeated hour is seen twice, so a start inside it matches twice and a
 *     window overlapping it stays open for both passes (up to an hour longer in real time).
 *
 * Syntax: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of
 * week (0-7 or SUN-SAT, 0 and 7 are Sunday), separated by runs of spaces or tabs. Each field
 * is a comma list of `*`, `n`, `a-b`, `*` + `/step` or `a-b/step`; names are three letters,
 * case-insensitive. No @macros, seconds field, L, W, # or ?. Ranges must not go backwards
 * (write 22-23,0-2). Day matching follows Vixie cron: when both day fields are restricted
 * (their text does not start with `*`) a day matches if EITHER matches, otherwise both must.
 *
 * struct gf_cron and struct gf_cron_time are plain value structs on purpose: callers keep
 * them by value, copy them and compare them. All functions are thread-safe (no state).
 */
#ifndef GF_COMMON_CRON_H
#define GF_COMMON_CRON_H

#include "err.h"

#include <stdint.h>

#define GF_CRON_EXPR_MAX 200u      /* characters of one expression */
#define GF_CRON_DURATION_MAX 10080 /* window length cap in minutes (one week) */
#define GF_CRON_NEXT_DAYS 1464     /* gf_cron_next() horizon: 4 years of 366 days */
#define GF_CRON_YEAR_MIN 1         /* valid years of struct gf_cron_time */
#define GF_CRON_YEAR_MAX 9999

/* A compiled expression: one bit per allowed value. Plain value struct. */
struct gf_cron {
    uint64_t minute;     /* bit m for minute m, 0-59 */
    uint32_t hour;       /* bit h for hour h, 0-23 */
    uint32_t mday;       /* bit d for day of month d, 1-31 */
    uint16_t month;      /* bit m for month m, 1-12 */
    uint8_t wday;        /* bit w for weekday w, 0-6 (Sunday = 0; 7 is folded into 0) */
    int mday_restricted; /* 1 when the day-of-month field does not start with '*' */
    int wday_restricted; /* 1 when the day-of-week field does not start with '*' */
};

/* A local wall-clock minute. Plain value struct. month 1-12, day 1-31 (valid for the month),
 * hour 0-23, minute 0-59, wday 0-6 with Sunday = 0, year GF_CRON_YEAR_MIN..MAX. */
struct gf_cron_time {
    int year, month, day, hour, minute, wday;
};

/* Compile expr into *out (written only on success). GF_ERR_INVAL with diag->where "cron" and
 * diag->msg naming the field and the bad token, e.g. "day of week: 8 is out of range 0-7",
 * "minute: empty list item", "expected 5 fields, got 6", or when expr is longer than
 * GF_CRON_EXPR_MAX characters. diag may be NULL. expr is borrowed for the call. */
enum gf_err gf_cron_parse(const char *expr, struct gf_cron *out, struct gf_diag *diag);

/* 1 when minute t matches c, else 0 (also when t has a field out of range). Uses t->wday as
 * given; the other functions below compute wday from the date. */
int gf_cron_match(const struct gf_cron *c, const struct gf_cron_time *t);

/* Fill *out with the given date and time and its weekday. GF_ERR_INVAL (out untouched) when
 * a field is out of range or the day does not exist in that month (2025-02-29). */
enum gf_err gf_cron_time_set(struct gf_cron_time *out, int year, int month, int day, int hour,
                             int minute);

/* 1 when every field of t is in range, the day exists in its month and wday agrees with the
 * date; else 0. */
int gf_cron_time_valid(const struct gf_cron_time *t);

/* Minutes since 1970-01-01 00:00 of the naive wall clock (negative before), from the date
 * fields of t (wday ignored). t's fields must be in range (see gf_cron_time_set). */
int64_t gf_cron_time_to_minutes(const struct gf_cron_time *t);

/* Inverse of gf_cron_time_to_minutes(), wday included. GF_ERR_INVAL (out untouched) when the
 * year would leave GF_CRON_YEAR_MIN..MAX. */
enum gf_err gf_cron_time_from_minutes(int64_t minutes, struct gf_cron_time *out);

/* Move *t by minutes (negative: backwards) across hour, day, month, year and leap-day
 * boundaries, and recompute wday. GF_ERR_INVAL (t untouched) when a field of t is out of
 * range or the result leaves GF_CRON_YEAR_MIN..MAX. */
enum gf_err gf_cron_time_add_minutes(struct gf_cron_time *t, int64_t minutes);

/* 1 when a window of c is open at now: some matching minute s has
 * now - duration_minutes < s <= now (a window starting at s contains now, including s itself
 * and s + duration - 1, but not s + duration). Fills *opened (if not NULL) with the latest such
 * s. 0 when closed, when duration_minutes is outside 1..GF_CRON_DURATION_MAX or when a field
 * of now is out of range. now->wday is ignored (computed from the date). At most
 * duration_minutes minutes are examined, skipping whole non-matching days and hours. */
int gf_cron_window_open(const struct gf_cron *c, const struct gf_cron_time *now,
                        int duration_minutes, struct gf_cron_time *opened);

/* The first matching minute strictly after *from into *next (written only when found).
 * Returns 1 when found within GF_CRON_NEXT_DAYS days, else 0: for expressions that never
 * match ("0 0 30 2 *"), for a from out of range, and for Feb 29 schedules across a skipped
 * century leap year (2100). from->wday is ignored. Skips non-matching days and hours. */
int gf_cron_next(const struct gf_cron *c, const struct gf_cron_time *from,
                 struct gf_cron_time *next);

#endif
