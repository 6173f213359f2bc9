/* SPDX-License-Identifier: Apache-2.0
 *
 * log.c - logfmt writer. One line is assembled in a bounded stack buffer and written with
 * a single write(2), so lines from concurrent threads never interleave.
 */
#include "log.h"

#include "gf_limits.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = GF_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void gf_log_set_level(enum gf_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int gf_log_parse_level(const char *s, enum gf_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum gf_log_level)i;
            return 0;
        }
    }
    return -1;
}

int gf_log_enabled(enum gf_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

void gf_log_quote(char *dst, unsigned long cap, const char *s)
{
    size_t n = strlen(dst);
    int need_quotes = (*s == '\0');

    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20) {
            need_quotes = 1;
            break;
        }
    }
    if (need_quotes && n + 1 < cap) {
        dst[n++] = '"';
    }
    for (const char *p = s; *p && n + 3 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            dst[n++] = ' ';
        } else {
            dst[n++] = (char)c;
        }
    }
    if (need_quotes && n + 1 < cap) {
        dst[n++] = '"';
    }
    dst[n] = '\0';
}

void gf_log_write(enum gf_log_level level, const char *module, const char *msg,
                  const char *fmt, ...)
{
    char line[GF_LIMIT_LOG_LINE];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;

    if (!gf_log_enabled(level)) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s module=%s msg=", ts.tv_nsec / 1000000L,
             level_names[level], module);
    gf_log_quote(line, sizeof(line) - 2, msg);
    n = strlen(line);
    if (fmt != NULL && *fmt != '\0' && n + 2 < sizeof(line)) {
        line[n++] = ' ';
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
        va_end(ap);
        n = strlen(line);
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
