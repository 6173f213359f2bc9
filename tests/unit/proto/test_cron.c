/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cron.c - maintenance-window schedules: every cron syntax form and name, each parse
 * error with its message, the Vixie day-of-month / day-of-week rule, wall-clock stepping
 * across month, year and leap-day boundaries, window edges (start, start + duration - 1,
 * start + duration), gf_cron_next() across a year end and for an impossible expression, and
 * a cross-check of the skipping searches against a minute-by-minute scan.
 */
#include "cron.h"
#include "gf_test.h"

#include <string.h>

static struct gf_cron_time at(int y, int mo, int d, int h, int mi)
{
    struct gf_cron_time t = {0, 0, 0, 0, 0, -1};

    CHECK(gf_cron_time_set(&t, y, mo, d, h, mi) == GF_OK);
    return t;
}

static int same(struct gf_cron_time a, int y, int mo, int d, int h, int mi)
{
    return a.year == y && a.month == mo && a.day == d && a.hour == h && a.minute == mi &&
           gf_cron_time_valid(&a);
}

static struct gf_cron parse(const char *expr)
{
    struct gf_cron c;
    struct gf_diag d;

    memset(&c, 0, sizeof(c));
    gf_diag_clear(&d);
    if (gf_cron_parse(expr, &c, &d) != GF_OK) {
        fprintf(stderr, "parse \"%s\": %s\n", expr, d.msg);
        CHECK(0);
    }
    return c;
}

static void parse_error(const char *expr, const char *msg)
{
    struct gf_cron c;
    struct gf_diag d;

    memset(&c, 0xab, sizeof(c));
    gf_diag_clear(&d);
    CHECK(gf_cron_parse(expr, &c, &d) == GF_ERR_INVAL);
    CHECK_STR(d.msg, msg);
    CHECK_STR(d.where, "cron");
    CHECK(c.minute == 0xababababababababu); /* out untouched */
}

static int matches(const char *expr, int y, int mo, int d, int h, int mi)
{
    struct gf_cron c = parse(expr);
    struct gf_cron_time t = at(y, mo, d, h, mi);

    return gf_cron_match(&c, &t);
}

static int open_at(const char *expr, int dur, int y, int mo, int d, int h, int mi,
                   struct gf_cron_time *opened)
{
    struct gf_cron c = parse(expr);
    struct gf_cron_time t = at(y, mo, d, h, mi);

    return gf_cron_window_open(&c, &t, dur, opened);
}

static void test_parse_forms(void)
{
    struct gf_cron c = parse("* * * * *");

    CHECK(c.minute == (((uint64_t)1 << 60) - 1));
    CHECK(c.hour == (1u << 24) - 1);
    CHECK(c.mday == 0xfffffffeu);
    CHECK(c.month == 0x1ffe);
    CHECK(c.wday == 0x7f);
    CHECK(!c.mday_restricted && !c.wday_restricted);

    c = parse("5 1-3 */10 2-11/3 1,3-4,*/3");
    CHECK(c.minute == (uint64_t)1 << 5);
    CHECK(c.hour == 0xe);
    CHECK(c.mday == ((1u << 1) | (1u << 11) | (1u << 21) | (1u << 31)));
    CHECK(c.month == ((1u << 2) | (1u << 5) | (1u << 8) | (1u << 11)));
    CHECK(c.wday == ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 6)));
    CHECK(c.mday_restricted == 0 && c.wday_restricted == 1);

    c = parse("10-20/5,59 0 1 1 0");
    CHECK(c.minute ==
          (((uint64_t)1 << 10) | ((uint64_t)1 << 15) | ((uint64_t)1 << 20) | ((uint64_t)1 << 59)));
    CHECK(c.mday_restricted && c.wday_restricted);

    /* 7 is Sunday, alone and at a range end */
    CHECK(parse("0 0 * * 7").wday == 1);
    CHECK(parse("0 0 * * 5-7").wday == ((1u << 5) | (1u << 6) | 1u));
    CHECK(parse("0 0 * * 0-7/2").wday == ((1u << 0) | (1u << 2) | (1u << 4) | (1u << 6)));

    /* names, case-insensitive, in lists, ranges and with steps */
    CHECK(parse("0 0 * JAN-DEC *").month == 0x1ffe);
    CHECK(parse("0 0 * jan,Mar,dEC *").month == ((1u << 1) | (1u << 3) | (1u << 12)));
    CHECK(parse("0 0 * feb-AUG/2 *").month == ((1u << 2) | (1u << 4) | (1u << 6) | (1u << 8)));
    CHECK(parse("0 0 * * mon-FRI").wday == 0x3e);
    CHECK(parse("0 0 * * SUN,sat").wday == 0x41);
    CHECK(parse("0 0 * * Sun,Mon,Tue,Wed,Thu,Fri,Sat").wday == 0x7f);
    CHECK(parse("0 0 * APR,May,jun,JUL,aug,SEP,oct,NOV *").month == 0x0ff0);

    /* any run of spaces and tabs, leading and trailing */
    c = parse(" \t0\t\t2   * *  1-5 \t");
    CHECK(c.minute == 1 && c.hour == 4 && c.wday == 0x3e);
    CHECK(parse("*/60 */24 */31 */12 */8").minute == 1);
}

static void test_parse_errors(void)
{
    char longexpr[GF_CRON_EXPR_MAX + 2];

    parse_error("0 2 * * 8", "day of week: 8 is out of range 0-7");
    parse_error("1,,2 * * * *", "minute: empty list item");
    parse_error("1, * * * *", "minute: empty list item");
    parse_error("* * ,1 * *", "day of month: empty list item");
    parse_error("0 0 * * * *", "expected 5 fields, got 6");
    parse_error("0 0 * *", "expected 5 fields, got 4");
    parse_error("", "expected 5 fields, got 0");
    parse_error(" \t ", "expected 5 fields, got 0");
    parse_error("@daily", "macros such as @daily are not supported; write the 5 fields");
    parse_error("60 * * * *", "minute: 60 is out of range 0-59");
    parse_error("99999999999 * * * *", "minute: 99999999999 is out of range 0-59");
    parse_error("* 24 * * *", "hour: 24 is out of range 0-23");
    parse_error("* * 0 * *", "day of month: 0 is out of range 1-31");
    parse_error("* * 32 * *", "day of month: 32 is out of range 1-31");
    parse_error("* * * 0 *", "month: 0 is out of range 1-12");
    parse_error("* * * 1-13 *", "month: 13 is out of range 1-12");
    parse_error("* * * FOO *", "month: unknown name \"FOO\" (use JAN-DEC)");
    parse_error("* * * January *", "month: unknown name \"January\" (use JAN-DEC)");
    parse_error("* * * * MONDAY", "day of week: unknown name \"MONDAY\" (use SUN-SAT)");
    parse_error("* * * * JAN", "day of week: unknown name \"JAN\" (use SUN-SAT)");
    parse_error("MON * * * *", "minute: expected a number, got \"MON\"");
    parse_error("* * L * *", "day of month: expected a number, got \"L\"");
    parse_error("* * 15W * *", "day of month: invalid value \"15W\"");
    parse_error("* * * * 5#3", "day of week: invalid item \"5#3\"");
    parse_error("* * ? * *", "day of month: invalid item \"?\"");
    parse_error("-5 * * * *", "minute: invalid item \"-5\"");
    parse_error("1- * * * *", "minute: invalid item \"1-\"");
    parse_error("1-2-3 * * * *", "minute: invalid item \"1-2-3\"");
    parse_error("** * * * *", "minute: invalid item \"**\"");
    parse_error("5-1 * * * *", "minute: range \"5-1\" goes backwards (split it: 22-23,0-2)");
    parse_error("* * * * FRI-SUN",
                "day of week: range \"FRI-SUN\" goes backwards (split it: 22-23,0-2)");
    parse_error("*/0 * * * *", "minute: step in \"*/0\" must be a number 1-60");
    parse_error("*/ * * * *", "minute: step in \"*/\" must be a number 1-60");
    parse_error("* */25 * * *", "hour: step in \"*/25\" must be a number 1-24");
    parse_error("* 1-5/x * * *", "hour: step in \"1-5/x\" must be a number 1-24");
    parse_error("* 1-5/2/2 * * *", "hour: step in \"1-5/2/2\" must be a number 1-24");
    parse_error("5/10 * * * *", "minute: a step needs * or a range before '/', got \"5/10\"");
    parse_error("0 0 1\n * *", "day of month: invalid item \"1?\"");

    memset(longexpr, ' ', sizeof(longexpr) - 1);
    memcpy(longexpr, "* * * * *", 9);
    longexpr[sizeof(longexpr) - 1] = '\0';
    parse_error(longexpr, "expression longer than 200 characters");
    longexpr[sizeof(longexpr) - 2] = '\0'; /* exactly the cap */
    CHECK(parse(longexpr).minute == (((uint64_t)1 << 60) - 1));

    CHECK(gf_cron_parse("x * * * *", &(struct gf_cron){0}, NULL) == GF_ERR_INVAL);
}

static void test_time(void)
{
    struct gf_cron_time t = at(1970, 1, 1, 0, 0), u;

    CHECK(gf_cron_time_to_minutes(&t) == 0 && t.wday == 4);
    CHECK(at(2000, 1, 1, 0, 0).wday == 6);
    CHECK(at(2024, 2, 29, 0, 0).wday == 4);
    CHECK(at(1969, 12, 31, 23, 59).wday == 3);
    t = at(1969, 12, 31, 23, 59);
    CHECK(gf_cron_time_to_minutes(&t) == -1);
    CHECK(gf_cron_time_set(&u, 2025, 2, 29, 0, 0) == GF_ERR_INVAL);
    CHECK(gf_cron_time_set(&u, 2100, 2, 29, 0, 0) == GF_ERR_INVAL);
    CHECK(gf_cron_time_set(&u, 2000, 2, 29, 0, 0) == GF_OK);
    CHECK(gf_cron_time_set(&u, 2025, 4, 31, 0, 0) == GF_ERR_INVAL);
    CHECK(gf_cron_time_set(&u, 2025, 13, 1, 0, 0) == GF_ERR_INVAL);
    CHECK(gf_cron_time_set(&u, 2025, 1, 1, 24, 0) == GF_ERR_INVAL);
    CHECK(gf_cron_time_set(&u, 2025, 1, 1, 0, 60) == GF_ERR_INVAL);
    CHECK(gf_cron_time_set(&u, 0, 1, 1, 0, 0) == GF_ERR_INVAL);
    u = at(2025, 6, 2, 0, 0);
    u.wday = 0;
    CHECK(!gf_cron_time_valid(&u));

    t = at(2025, 12, 31, 23, 59);
    CHECK(gf_cron_time_add_minutes(&t, 1) == GF_OK && same(t, 2026, 1, 1, 0, 0) && t.wday == 4);
    CHECK(gf_cron_time_add_minutes(&t, -1) == GF_OK && same(t, 2025, 12, 31, 23, 59));
    t = at(2024, 2, 28, 23, 30);
    CHECK(gf_cron_time_add_minutes(&t, 60) == GF_OK && same(t, 2024, 2, 29, 0, 30));
    CHECK(gf_cron_time_add_minutes(&t, 1440) == GF_OK && same(t, 2024, 3, 1, 0, 30));
    CHECK(gf_cron_time_add_minutes(&t, -2 * 1440) == GF_OK && same(t, 2024, 2, 28, 0, 30));
    t = at(2023, 2, 28, 23, 30);
    CHECK(gf_cron_time_add_minutes(&t, 60) == GF_OK && same(t, 2023, 3, 1, 0, 30));
    t = at(2025, 3, 1, 0, 0);
    CHECK(gf_cron_time_add_minutes(&t, -1) == GF_OK && same(t, 2025, 2, 28, 23, 59));
    t = at(2024, 1, 1, 0, 0);
    CHECK(gf_cron_time_add_minutes(&t, 366 * 1440) == GF_OK && same(t, 2025, 1, 1, 0, 0));
    t = at(9999, 12, 31, 23, 59);
    CHECK(gf_cron_time_add_minutes(&t, 1) == GF_ERR_INVAL && same(t, 9999, 12, 31, 23, 59));
    t = at(1, 1, 1, 0, 0);
    CHECK(gf_cron_time_add_minutes(&t, -1) == GF_ERR_INVAL);
    CHECK(gf_cron_time_from_minutes(gf_cron_time_to_minutes(&t), &u) == GF_OK &&
          same(u, 1, 1, 1, 0, 0));
}

static void test_match(void)
{
    struct gf_cron c = parse("0 0 * * *");
    struct gf_cron_time bad = {2025, 13, 1, 0, 0, 0};

    CHECK(matches("0 2 * * 1-5", 2025, 6, 2, 2, 0) == 1); /* Monday */
    CHECK(matches("0 2 * * 1-5", 2025, 6, 2, 2, 1) == 0);
    CHECK(matches("0 2 * * 1-5", 2025, 6, 2, 3, 0) == 0);
    CHECK(matches("0 2 * * 1-5", 2025, 6, 7, 2, 0) == 0); /* Saturday */
    CHECK(matches("0 0 * * 7", 2025, 6, 8, 0, 0) == 1);   /* Sunday */
    CHECK(matches("0 0 * JUN *", 2025, 6, 8, 0, 0) == 1);
    CHECK(matches("0 0 * JUL *", 2025, 6, 8, 0, 0) == 0);

    /* both day fields restricted: either matches (13th or a Friday) */
    CHECK(matches("0 0 13 * 5", 2025, 6, 13, 0, 0) == 1); /* Friday the 13th */
    CHECK(matches("0 0 13 * 5", 2025, 6, 6, 0, 0) == 1);  /* a Friday */
    CHECK(matches("0 0 13 * 5", 2025, 7, 13, 0, 0) == 1); /* a Sunday the 13th */
    CHECK(matches("0 0 13 * 5", 2025, 6, 12, 0, 0) == 0);
    CHECK(matches("0 0 13 * FRI", 2025, 7, 13, 0, 0) == 1);
    /* one of them '*': the other decides */
    CHECK(matches("0 0 13 * *", 2025, 6, 6, 0, 0) == 0);
    CHECK(matches("0 0 * * 5", 2025, 7, 13, 0, 0) == 0);
    /* a field starting with '*' counts as unrestricted (Vixie): both must match */
    CHECK(matches("0 0 */2 * 1", 2025, 6, 2, 0, 0) == 0);  /* Monday the 2nd */
    CHECK(matches("0 0 */2 * 1", 2025, 6, 9, 0, 0) == 1);  /* Monday the 9th */
    CHECK(matches("0 0 */2 * 1", 2025, 6, 3, 0, 0) == 0);  /* Tuesday the 3rd */
    CHECK(matches("0 0 1-31 * 1", 2025, 6, 3, 0, 0) == 1); /* restricted: either */

    CHECK(gf_cron_match(&c, &bad) == 0);
}

static void test_window(void)
{
    const char *wk = "0 2 * * 1-5";
    struct gf_cron_time o;

    /* 2025-06-02 is a Monday */
    CHECK(open_at(wk, 120, 2025, 6, 2, 1, 59, NULL) == 0);
    CHECK(open_at(wk, 120, 2025, 6, 2, 2, 0, &o) == 1 && same(o, 2025, 6, 2, 2, 0));
    CHECK(open_at(wk, 120, 2025, 6, 2, 3, 59, &o) == 1 && same(o, 2025, 6, 2, 2, 0));
    CHECK(open_at(wk, 120, 2025, 6, 2, 4, 0, NULL) == 0);
    CHECK(open_at(wk, 120, 2025, 6, 7, 2, 30, NULL) == 0); /* Saturday */
    CHECK(open_at(wk, 1, 2025, 6, 2, 2, 0, NULL) == 1);
    CHECK(open_at(wk, 1, 2025, 6, 2, 2, 1, NULL) == 0);
    /* duration bounds */
    CHECK(open_at(wk, 0, 2025, 6, 2, 2, 0, NULL) == 0);
    CHECK(open_at(wk, -5, 2025, 6, 2, 2, 0, NULL) == 0);
    CHECK(open_at(wk, GF_CRON_DURATION_MAX + 1, 2025, 6, 2, 2, 0, NULL) == 0);
    /* a week-long window from Monday 00:00 is always open */
    CHECK(open_at("0 0 * * MON", 10080, 2025, 6, 8, 23, 59, &o) == 1 && same(o, 2025, 6, 2, 0, 0));
    CHECK(open_at("0 0 * * MON", 10080, 2025, 6, 9, 0, 0, &o) == 1 && same(o, 2025, 6, 9, 0, 0));
    CHECK(open_at("0 0 * * MON", 10079, 2025, 6, 8, 23, 59, NULL) == 0);
    /* the latest of several starts */
    CHECK(open_at("*/15 * * * *", 60, 2025, 6, 2, 10, 20, &o) == 1 && same(o, 2025, 6, 2, 10, 15));

    /* across midnight */
    CHECK(open_at("30 23 * * *", 60, 2025, 6, 2, 23, 30, &o) == 1 && same(o, 2025, 6, 2, 23, 30));
    CHECK(open_at("30 23 * * *", 60, 2025, 6, 3, 0, 29, &o) == 1 && same(o, 2025, 6, 2, 23, 30));
    CHECK(open_at("30 23 * * *", 60, 2025, 6, 3, 0, 30, NULL) == 0);
    /* ... that only starts on Fridays: open into Saturday, not from a Saturday start */
    CHECK(open_at("30 23 * * 5", 60, 2025, 6, 7, 0, 10, &o) == 1 && same(o, 2025, 6, 6, 23, 30));
    CHECK(open_at("30 23 * * 5", 60, 2025, 6, 8, 0, 10, NULL) == 0);
    /* across a month end (30 days) and a year end */
    CHECK(open_at("0 22 30 4 *", 180, 2025, 5, 1, 0, 59, &o) == 1 && same(o, 2025, 4, 30, 22, 0));
    CHECK(open_at("0 22 30 4 *", 180, 2025, 5, 1, 1, 0, NULL) == 0);
    CHECK(open_at("0 23 31 DEC *", 120, 2026, 1, 1, 0, 59, &o) == 1 &&
          same(o, 2025, 12, 31, 23, 0));
    CHECK(open_at("0 23 31 DEC *", 120, 2026, 1, 1, 1, 0, NULL) == 0);
    CHECK(open_at("0 23 31 DEC *", 120, 2025, 12, 31, 22, 59, NULL) == 0);
    /* leap day: a day-long window from Feb 29 noon, and years without one */
    CHECK(open_at("0 12 29 2 *", 1440, 2024, 3, 1, 11, 59, &o) == 1 && same(o, 2024, 2, 29, 12, 0));
    CHECK(open_at("0 12 29 2 *", 1440, 2024, 3, 1, 12, 0, NULL) == 0);
    CHECK(open_at("0 12 29 2 *", 1440, 2025, 3, 1, 11, 59, NULL) == 0);
    CHECK(open_at("0 12 28 2 *", 1440, 2025, 3, 1, 11, 59, &o) == 1 && same(o, 2025, 2, 28, 12, 0));
    CHECK(open_at("0 12 28 2 *", 1440, 2024, 3, 1, 11, 59, NULL) == 0); /* Feb 29 between */
    /* the start of the calendar */
    CHECK(open_at("* * * * *", 60, 1, 1, 1, 0, 0, &o) == 1 && same(o, 1, 1, 1, 0, 0));
}

static void test_next(void)
{
    struct gf_cron c = parse("0 0 1 1 *");
    struct gf_cron_time from = at(2025, 12, 31, 23, 59), n = at(2000, 1, 1, 0, 0);

    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2026, 1, 1, 0, 0));
    from = n;
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2027, 1, 1, 0, 0)); /* strictly after */

    c = parse("0 0 30 2 *");
    n = at(2000, 1, 1, 0, 0);
    CHECK(gf_cron_next(&c, &from, &n) == 0 && same(n, 2000, 1, 1, 0, 0));
    c = parse("0 0 31 4,6,9,11 *");
    CHECK(gf_cron_next(&c, &from, &n) == 0);

    c = parse("0 0 29 2 *");
    from = at(2024, 2, 29, 0, 0);
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2028, 2, 29, 0, 0));
    from = at(2097, 1, 1, 0, 0); /* 2100 is not a leap year: 2104 is beyond the horizon */
    CHECK(gf_cron_next(&c, &from, &n) == 0);
    from = at(9996, 3, 1, 0, 0); /* the end of the calendar */
    CHECK(gf_cron_next(&c, &from, &n) == 0);

    c = parse("0 2 * * 1-5");
    from = at(2025, 6, 6, 3, 0); /* Friday after the window started */
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2025, 6, 9, 2, 0));
    from = at(2025, 6, 6, 1, 59);
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2025, 6, 6, 2, 0));
    c = parse("*/10 * * * *");
    from = at(2025, 12, 31, 23, 55);
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2026, 1, 1, 0, 0));
    c = parse("0 0 13 * 5"); /* the 13th or a Friday */
    from = at(2025, 6, 7, 0, 0);
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2025, 6, 13, 0, 0));
    from = n;
    CHECK(gf_cron_next(&c, &from, &n) == 1 && same(n, 2025, 6, 20, 0, 0));
    from.month = 13;
    CHECK(gf_cron_next(&c, &from, &n) == 0);
}

/* First minute m in [from, from + n) (step +1) or (from - n, from] (step -1) matching c, by
 * brute force through gf_cron_match(); -1 when none. */
static int64_t scan(const struct gf_cron *c, int64_t from, int n, int dir)
{
    struct gf_cron_time t;

    for (int i = 0; i < n; i++) {
        int64_t m = from + dir * i;
        if (gf_cron_time_from_minutes(m, &t) == GF_OK && gf_cron_match(c, &t)) {
            return m;
        }
    }
    return -1;
}

/* The skipping searches agree with a scan minute by minute through gf_cron_match(). */
static void test_cross_check(void)
{
    static const char *const exprs[] = {"0 2 * * 1-5",  "*/7 3-5 * * *",      "59 23 28-31 * *",
                                        "0 0 13 * 5",   "15 */6 1 JAN,JUL *", "0 12 29 2 *",
                                        "30 1 */2 * 0", "5,10 22 * * SAT"};
    const int horizon = 100000; /* minutes scanned for gf_cron_next (69 days) */
    unsigned seed = 12345;

    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        struct gf_cron c = parse(exprs[e]);
        for (int k = 0; k < 40; k++) {
            struct gf_cron_time now = at(2023, 1, 1, 0, 0), o, n;
            seed = seed * 1103515245u + 12345u;
            int dur = (int)(seed % 3000) + 1;
            CHECK(gf_cron_time_add_minutes(&now, (int64_t)(seed >> 8) % (3 * 366 * 1440)) == GF_OK);
            int64_t nm = gf_cron_time_to_minutes(&now);
            int64_t want = scan(&c, nm, dur, -1);
            CHECK(gf_cron_window_open(&c, &now, dur, &o) == (want >= 0));
            CHECK(want < 0 || gf_cron_time_to_minutes(&o) == want);
            CHECK(want < 0 || gf_cron_time_valid(&o));

            want = scan(&c, nm + 1, horizon, 1);
            CHECK(gf_cron_next(&c, &now, &n) == 1 && gf_cron_time_valid(&n));
            CHECK(want < 0 ? gf_cron_time_to_minutes(&n) >= nm + 1 + horizon
                           : gf_cron_time_to_minutes(&n) == want);
        }
    }
}

int main(void)
{
    test_parse_forms();
    test_parse_errors();
    test_time();
    test_match();
    test_window();
    test_next();
    test_cross_check();
    return gf_test_summary("test_cron");
}
