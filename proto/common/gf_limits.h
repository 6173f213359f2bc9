/* SPDX-License-Identifier: Apache-2.0
 *
 * gf_limits.h - every fixed cap of gatefleet in one place. Tunable caps live in the config
 * tables (server/core/config.c); these are the hard bounds and the defaults behind them.
 */
#ifndef GF_COMMON_LIMITS_H
#define GF_COMMON_LIMITS_H

#define GF_LIMIT_BODY_DEFAULT (1024u * 1024u)        /* default max_body_bytes */
#define GF_LIMIT_BODY_MAX (64u * 1024u * 1024u)      /* max_body_bytes upper bound */
#define GF_LIMIT_URL_BYTES 2048u                     /* path + query */
#define GF_LIMIT_PATH_PARAMS 4u                      /* {params} in one route */
#define GF_LIMIT_CONFIG_LINE 4096u                   /* one config file line */
#define GF_LIMIT_CONFIG_FILE (256u * 1024u)          /* whole config file */
#define GF_LIMIT_NAME_CHARS 200u                     /* tenant/project/user/token names */
#define GF_LIMIT_SLUG_CHARS 63u                      /* tenant slug */
#define GF_LIMIT_EMAIL_CHARS 254u                    /* RFC 5321 path limit */
#define GF_LIMIT_DESCRIPTION_CHARS 2000u             /* free text fields */
#define GF_LIMIT_PASSWORD_MIN 12u                    /* password length, bytes */
#define GF_LIMIT_PASSWORD_MAX 1024u
#define GF_LIMIT_IDEMPOTENCY_KEY 200u                /* Idempotency-Key header */
#define GF_LIMIT_PAGE_DEFAULT 50                     /* list page size */
#define GF_LIMIT_PAGE_MAX 200
#define GF_LIMIT_JSON_DEPTH 32                       /* nesting of request bodies */
#define GF_LIMIT_LOG_LINE 2048u                      /* one log line */
#define GF_LIMIT_FILE_READ (16u * 1024u * 1024u)     /* gf_file_read default cap */
#define GF_LIMIT_STATIC_FILE (8u * 1024u * 1024u)    /* one web asset */
#define GF_LIMIT_LABELS 64u                          /* labels on one node */
#define GF_LIMIT_LABEL_KEY 63u                       /* label key characters */
#define GF_LIMIT_LABEL_VALUE 63u                     /* label value characters */
#define GF_LIMIT_SELECTOR_CHARS 1024u                /* one label selector */
#define GF_LIMIT_SELECTOR_TERMS 32u                  /* requirements in one selector */
#define GF_LIMIT_MQTT_PAYLOAD (256u * 1024u)         /* one agent MQTT message */
#define GF_LIMIT_HEALTH_RECORDS 1000u                /* records in one health message */

#endif
