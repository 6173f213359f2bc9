/* SPDX-License-Identifier: Apache-2.0
 *
 * cron.c - cron expression compiler and wall-clock window arithmetic (see cron.h). The
 * parser walks the text with a cursor: five whitespace-separated fields, each a comma list
 * of items compiled into one bitset per field. Dates are converted to and from a day number
 * with the days-from-civil algorithm (proleptic Gregorian, no libc time functions), so the
 * searches step over whole days and hours instead of single minutes.
 */
#include "cron.h"

#include <stddef.h>

#define MIN_PER_DAY 1440
#define TOKEN_SHOW 40 /* characters of a bad token quoted in a message */
#define NUM_SATURATE 1000000

struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* three-letter names of lo.., or NULL */
    int nnames;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const wday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL, 0},           {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},     {"month", 1, 12, month_names, 12},
    {"day of week", 0, 7, wday_names, 7},
};

/* ---- parsing ---------------------------------------------------------------------------- */

/* Text of one item (or token inside it), for messages. */
struct span {
    const char *s;
    size_t len;
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Copy sp into out (TOKEN_SHOW + 4 bytes) for a message: clipped, non-printables as '?'. */
static const char *show(struct span sp, char *out)
{
    size_t n = 0;

    for (; n < sp.len && n < TOKEN_SHOW; n++) {
        char c = sp.s[n];
        out[n] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (n < sp.len) {
        out[n++] = '.';
        out[n++] = '.';
        out[n++] = '.';
    }
    out[n] = '\0';
    return out;
}

/* "<field>: <what> "<token>"<tail>" */
static enum gf_err bad(struct gf_diag *diag, const struct field *f, const char *what,
                       struct span sp, const char *tail)
{
    char tok[TOKEN_SHOW + 4];

    return gf_diag_set(diag, GF_ERR_INVAL, "cron", "%s: %s \"%s\"%s", f->name, what, show(sp, tok),
                       tail);
}

/* A number or a name at it.s[*pos] into *v, range-checked for f. */
static enum gf_err value(const struct field *f, struct span it, size_t *pos, int *v,
                         struct gf_diag *diag)
{
    size_t p = *pos;
    struct span tok = {it.s + p, 0};
    long n = 0;

    while (p < it.len && (is_digit(it.s[p]) || is_alpha(it.s[p]))) {
        p++;
    }
    tok.len = p - *pos;
    if (tok.len == 0) {
        return bad(diag, f, "invalid item", it, "");
    }
    if (is_alpha(tok.s[0])) {
        for (int i = 0; tok.len == 3 && i < f->nnames; i++) {
            const char *nm = f->names[i];
            if (upper(tok.s[0]) == nm[0] && upper(tok.s[1]) == nm[1] && upper(tok.s[2]) == nm[2]) {
                *v = f->lo + i;
                *pos = p;
                return GF_OK;
            }
        }
        if (f->names == NULL) {
            return bad(diag, f, "expected a number, got", tok, "");
        }
        return bad(diag, f, "unknown name", tok,
                   f->names == month_names ? " (use JAN-DEC)" : " (use SUN-SAT)");
    }
    for (size_t i = 0; i < tok.len; i++) {
        if (!is_digit(tok.s[i])) {
            return bad(diag, f, "invalid value", tok, "");
        }
        n = n < NUM_SATURATE ? n * 10 + (tok.s[i] - '0') : n;
    }
    if (n < f->lo || n > f->hi) {
        char buf[TOKEN_SHOW + 4];
        return gf_diag_set(diag, GF_ERR_INVAL, "cron", "%s: %s is out of range %d-%d", f->name,
                           show(tok, buf), f->lo, f->hi);
    }
    *v = (int)n;
    *pos = p;
    return GF_OK;
}

/* The step after '/' (at it.s[p], up to the end of the item): 1 .. size of the field's range. */
static enum gf_err step(const struct field *f, struct span it, size_t p, int *out,
                        struct gf_diag *diag)
{
    size_t start = p;
    long n = 0;

    while (p < it.len && is_digit(it.s[p])) {
        n = n < NUM_SATURATE ? n * 10 + (it.s[p] - '0') : n;
        p++;
    }
    if (p == start || p != it.len || n < 1 || n > f->hi - f->lo + 1) {
        char tok[TOKEN_SHOW + 4];
        return gf_diag_set(diag, GF_ERR_INVAL, "cron", "%s: step in \"%s\" must be a number 1-%d",
                           f->name, show(it, tok), f->hi - f->lo + 1);
    }
    *out = (int)n;
    return GF_OK;
}

/* One list item - `*`, `n` or `a-b`, the first and last with an optional `/step` - OR-ed
 * into *bits. */
static enum gf_err item(const struct field *f, struct span it, uint64_t *bits, struct gf_diag *diag)
{
    size_t p = 0;
    int lo = f->lo, hi = f->hi, by = 1, ranged = 1;
    enum gf_err err;

    if (it.s[0] == '*') {
        p = 1;
    } else {
        if ((err = value(f, it, &p, &lo, diag)) != GF_OK) {
            return err;
        }
        hi = lo;
        ranged = p < it.len && it.s[p] == '-';
        if (ranged) {
            p++;
            if ((err = value(f, it, &p, &hi, diag)) != GF_OK) {
                return err;
            }
            if (lo > hi) {
                return bad(diag, f, "range", it, " goes backwards (split it: 22-23,0-2)");
            }
        }
    }
    if (p < it.len && it.s[p] == '/') {
        if (!ranged) {
            return bad(diag, f, "a step needs * or a range before '/', got", it, "");
        }
        if ((err = step(f, it, p + 1, &by, diag)) != GF_OK) {
            return err;
        }
        p = it.len;
    }
    if (p != it.len) {
        return bad(diag, f, "invalid item", it, "");
    }
    for (int v = lo; v <= hi; v += by) {
        *bits |= (uint64_t)1 << v;
    }
    return GF_OK;
}

/* One field: a comma list of items. */
static enum gf_err field(const struct field *f, struct span fs, uint64_t *bits,
                         struct gf_diag *diag)
{
    size_t start = 0;
    enum gf_err err;

    *bits = 0;
    for (size_t p = 0; p <= fs.len; p++) {
        if (p < fs.len && fs.s[p] != ',') {
            continue;
        }
        struct span it = {fs.s + start, p - start};
        if (it.len == 0) {
            return gf_diag_set(diag, GF_ERR_INVAL, "cron", "%s: empty list item", f->name);
        }
        if ((err = item(f, it, bits, diag)) != GF_OK) {
            return err;
        }
        start = p + 1;
    }
    return GF_OK;
}

/* Split expr into at most five fields; *count gets the number of fields seen. */
static void split(const char *expr, struct span out[5], int *count)
{
    size_t p = 0;
    int n = 0;

    for (;;) {
        while (is_space(expr[p])) {
            p++;
        }
        if (expr[p] == '\0') {
            break;
        }
        size_t start = p;
        while (expr[p] != '\0' && !is_space(expr[p])) {
            p++;
        }
        if (n < 5) {
            out[n].s = expr + start;
            out[n].len = p - start;
        }
        n++;
    }
    *count = n;
}

enum gf_err gf_cron_parse(const char *expr, struct gf_cron *out, struct gf_diag *diag)
{
    struct span fs[5];
    uint64_t bits[5];
    struct gf_cron c;
    size_t len = 0;
    int n;
    enum gf_err err;

    while (expr[len] != '\0' && len <= GF_CRON_EXPR_MAX) {
        len++;
    }
    if (len > GF_CRON_EXPR_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "cron", "expression longer than %u characters",
                           GF_CRON_EXPR_MAX);
    }
    split(expr, fs, &n);
    if (n >= 1 && fs[0].s[0] == '@') {
        return gf_diag_set(diag, GF_ERR_INVAL, "cron",
                           "macros such as @daily are not supported; write the 5 fields");
    }
    if (n != 5) {
        return gf_diag_set(diag, GF_ERR_INVAL, "cron", "expected 5 fields, got %d", n);
    }
    for (int i = 0; i < 5; i++) {
        if ((err = field(&fields[i], fs[i], &bits[i], diag)) != GF_OK) {
            return err;
        }
    }
    c.minute = bits[0];
    c.hour = (uint32_t)bits[1];
    c.mday = (uint32_t)bits[2];
    c.month = (uint16_t)bits[3];
    c.wday = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday */
    c.mday_restricted = fs[2].s[0] != '*';
    c.wday_restricted = fs[4].s[0] != '*';
    *out = c;
    return GF_OK;
}

/* ---- calendar --------------------------------------------------------------------------- */

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int wday_of(int64_t days)
{
    return (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
}

static int fields_ok(const struct gf_cron_time *t)
{
    return t->year >= GF_CRON_YEAR_MIN && t->year <= GF_CRON_YEAR_MAX && t->month >= 1 &&
           t->month <= 12 && t->day >= 1 && t->day <= days_in_month(t->year, t->month) &&
           t->hour >= 0 && t->hour <= 23 && t->minute >= 0 && t->minute <= 59;
}

enum gf_err gf_cron_time_set(struct gf_cron_time *out, int year, int month, int day, int hour,
                             int minute)
{
    struct gf_cron_time t = {year, month, day, hour, minute, 0};

    if (!fields_ok(&t)) {
        return GF_ERR_INVAL;
    }
    t.wday = wday_of(days_from_civil(year, month, day));
    *out = t;
    return GF_OK;
}

int gf_cron_time_valid(const struct gf_cron_time *t)
{
    return fields_ok(t) && t->wday == wday_of(days_from_civil(t->year, t->month, t->day));
}

int64_t gf_cron_time_to_minutes(const struct gf_cron_time *t)
{
    return days_from_civil(t->year, t->month, t->day) * MIN_PER_DAY + t->hour * 60 + t->minute;
}

enum gf_err gf_cron_time_from_minutes(int64_t minutes, struct gf_cron_time *out)
{
    const int64_t lo = days_from_civil(GF_CRON_YEAR_MIN, 1, 1) * MIN_PER_DAY;
    const int64_t hi = days_from_civil(GF_CRON_YEAR_MAX + 1, 1, 1) * MIN_PER_DAY;
    int64_t days, y;
    int mod, m, d;

    if (minutes < lo || minutes >= hi) {
        return GF_ERR_INVAL;
    }
    days = floor_div(minutes, MIN_PER_DAY);
    mod = (int)(minutes - days * MIN_PER_DAY);
    civil_from_days(days, &y, &m, &d);
    out->year = (int)y;
    out->month = m;
    out->day = d;
    out->hour = mod / 60;
    out->minute = mod % 60;
    out->wday = wday_of(days);
    return GF_OK;
}

enum gf_err gf_cron_time_add_minutes(struct gf_cron_time *t, int64_t minutes)
{
    const int64_t span = (int64_t)(GF_CRON_YEAR_MAX + 1) * 366 * MIN_PER_DAY;

    if (!fields_ok(t) || minutes > span || minutes < -span) {
        return GF_ERR_INVAL;
    }
    return gf_cron_time_from_minutes(gf_cron_time_to_minutes(t) + minutes, t);
}

/* ---- matching --------------------------------------------------------------------------- */

static int day_match(const struct gf_cron *c, int month, int day, int wday)
{
    int dom = (int)((c->mday >> day) & 1), dow = (int)((c->wday >> wday) & 1);

    if (!((c->month >> month) & 1)) {
        return 0;
    }
    if (c->mday_restricted && c->wday_restricted) {
        return dom || dow; /* Vixie cron: either restricted day field */
    }
    return dom && dow;
}

static int day_number_match(const struct gf_cron *c, int64_t days)
{
    int64_t y;
    int m, d;

    civil_from_days(days, &y, &m, &d);
    return day_match(c, m, d, wday_of(days));
}

int gf_cron_match(const struct gf_cron *c, const struct gf_cron_time *t)
{
    if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31 || t->hour < 0 || t->hour > 23 ||
        t->minute < 0 || t->minute > 59 || t->wday < 0 || t->wday > 6) {
        return 0;
    }
    return ((c->minute >> t->minute) & 1) && ((c->hour >> t->hour) & 1) &&
           day_match(c, t->month, t->day, t->wday);
}

int gf_cron_window_open(const struct gf_cron *c, const struct gf_cron_time *now,
                        int duration_minutes, struct gf_cron_time *opened)
{
    const int64_t first = days_from_civil(GF_CRON_YEAR_MIN, 1, 1) * MIN_PER_DAY;
    int64_t n, lower, day;
    int mod;

    if (duration_minutes < 1 || duration_minutes > GF_CRON_DURATION_MAX || !fields_ok(now)) {
        return 0;
    }
    n = gf_cron_time_to_minutes(now);
    lower = n - duration_minutes + 1;
    lower = lower < first ? first : lower;
    day = floor_div(n, MIN_PER_DAY);
    mod = (int)(n - day * MIN_PER_DAY);
    /* Latest matching minute s <= n, walking backwards; stop once below lower. */
    for (; (day + 1) * MIN_PER_DAY > lower; day--, mod = MIN_PER_DAY - 1) {
        if (!day_number_match(c, day)) {
            continue;
        }
        for (int h = mod / 60; h >= 0; h--) {
            if (!((c->hour >> h) & 1)) {
                continue;
            }
            for (int mi = h == mod / 60 ? mod % 60 : 59; mi >= 0; mi--) {
                int64_t s = day * MIN_PER_DAY + h * 60 + mi;
                if (s < lower) {
                    return 0;
                }
                if ((c->minute >> mi) & 1) {
                    return opened == NULL || gf_cron_time_from_minutes(s, opened) == GF_OK;
                }
            }
        }
    }
    return 0;
}

int gf_cron_next(const struct gf_cron *c, const struct gf_cron_time *from,
                 struct gf_cron_time *next)
{
    const int64_t last = days_from_civil(GF_CRON_YEAR_MAX, 12, 31);
    int64_t cur, day, end;
    int mod;

    if (!fields_ok(from)) {
        return 0;
    }
    cur = gf_cron_time_to_minutes(from) + 1;
    day = floor_div(cur, MIN_PER_DAY);
    mod = (int)(cur - day * MIN_PER_DAY);
    end = day + GF_CRON_NEXT_DAYS;
    end = end > last ? last : end;
    for (; day <= end; day++, mod = 0) {
        if (!day_number_match(c, day)) {
            continue;
        }
        for (int h = mod / 60; h < 24; h++) {
            if (!((c->hour >> h) & 1)) {
                continue;
            }
            for (int mi = h == mod / 60 ? mod % 60 : 0; mi < 60; mi++) {
                if ((c->minute >> mi) & 1) {
                    return gf_cron_time_from_minutes(day * MIN_PER_DAY + h * 60 + mi, next) ==
                           GF_OK;
                }
            }
        }
    }
    return 0;
}
