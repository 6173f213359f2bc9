/* SPDX-License-Identifier: Apache-2.0
 *
 * log.h - levelled logfmt lines on stderr.
 *
 * Each .c file defines GF_LOG_MODULE before including this header; lines look like
 *   ts=2026-11-23T04:01:02.123Z level=info module=http msg="listening" url=http://...
 * Callers pass key=value pairs already formatted. Never pass secrets or payloads.
 * Thread-safe: a line is written with one write(2).
 */
#ifndef GF_COMMON_LOG_H
#define GF_COMMON_LOG_H

enum gf_log_level { GF_LOG_DEBUG, GF_LOG_INFO, GF_LOG_WARN, GF_LOG_ERROR };

/* Set the minimum level written. Not thread-safe: call at start-up. */
void gf_log_set_level(enum gf_log_level level);

/* Parse "debug" | "info" | "warn" | "error". Returns 0 on success, -1 otherwise. */
int gf_log_parse_level(const char *s, enum gf_log_level *out);

/* True if a line at this level would be written. */
int gf_log_enabled(enum gf_log_level level);

/* Write one line. msg is a plain sentence (quoted for you), fmt is extra logfmt pairs. */
void gf_log_write(enum gf_log_level level, const char *module, const char *msg,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Append s to dst as a logfmt value (quoted and escaped when needed), bounded by cap. */
void gf_log_quote(char *dst, unsigned long cap, const char *s);

#ifndef GF_LOG_MODULE
#define GF_LOG_MODULE "main"
#endif

#define gf_log_debug(msg, ...) gf_log_write(GF_LOG_DEBUG, GF_LOG_MODULE, msg, __VA_ARGS__)
#define gf_log_info(msg, ...) gf_log_write(GF_LOG_INFO, GF_LOG_MODULE, msg, __VA_ARGS__)
#define gf_log_warn(msg, ...) gf_log_write(GF_LOG_WARN, GF_LOG_MODULE, msg, __VA_ARGS__)
#define gf_log_error(msg, ...) gf_log_write(GF_LOG_ERROR, GF_LOG_MODULE, msg, __VA_ARGS__)

#endif
