/* SPDX-License-Identifier: Apache-2.0
 *
 * timefmt.c - clocks and a strict RFC 3339 parser (no sscanf: digit cursor).
 */
#include "timefmt.h"

#include <string.h>
#include <stdio.h>
#include <time.h>

int64_t gf_time_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gf_time_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c) {
        return -1;
    }
    (*p)++;
    return 0;
}

enum gf_err gf_time_parse_rfc3339(const char *s, int64_t *out_us)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, se, off = 0;
    int64_t frac = 0;
    struct tm tm;

    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !++p || digits(&p, 2, &h) ||
        expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') || digits(&p, 2, &se)) {
        return GF_ERR_INVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60) {
        return GF_ERR_INVAL;
    }
    if (*p == '.') {
        int n = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 6) {
                frac = frac * 10 + (*p - '0');
            }
            n++;
            p++;
        }
        if (n == 0 || n > 9) {
            return GF_ERR_INVAL;
        }
        for (; n < 6; n++) {
            frac *= 10;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 23 || om > 59) {
            return GF_ERR_INVAL;
        }
        off = sign * (oh * 3600 + om * 60);
    } else {
        return GF_ERR_INVAL;
    }
    if (*p != '\0') {
        return GF_ERR_INVAL;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    *out_us = ((int64_t)t - off) * 1000000 + frac;
    return GF_OK;
}

void gf_time_format_rfc3339(int64_t us, char *out, size_t cap)
{
    time_t secs = (time_t)(us / 1000000);
    int64_t ms = (us % 1000000) / 1000;
    struct tm tm;

    if (ms < 0) {
        secs -= 1;
        ms += 1000;
    }
    gmtime_r(&secs, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}
