/* SPDX-License-Identifier: Apache-2.0
 *
 * conf.h - configuration as one table per binary.
 *
 * Each binary describes its settings as an array of struct gf_conf_key: name, type,
 * default, bounds, offsetof() into its settings struct, help. The same table drives the
 * `key = value` file parser, the environment overrides (<env_prefix><KEY>, upper-cased),
 * the `--key value` command-line overrides, --print-config, and the docs. Precedence, lowest
 * first: defaults, file, environment, command line. Unknown keys and bad values fail with a
 * diagnostic naming the key (and file:line). String values are owned by the settings struct
 * and released with gf_conf_free().
 */
#ifndef GF_COMMON_CONF_H
#define GF_COMMON_CONF_H

#include "err.h"

#include <stdio.h>

enum gf_conf_type {
    GF_CONF_STR,      /* char * (owned), may be empty -> NULL */
    GF_CONF_INT,      /* long, within [min, max] */
    GF_CONF_BOOL,     /* int: true/false/yes/no/on/off/1/0 */
    GF_CONF_HOSTPORT, /* char *, "host:port" or "[v6]:port", port 0..65535 */
    GF_CONF_LEVEL,    /* char *, one of debug|info|warn|error */
    GF_CONF_DURATION, /* long seconds; accepts 30, 30s, 5m, 2h, 1d */
    GF_CONF_SIZE,     /* long bytes; accepts 1024, 64k, 8m, 1g */
};

struct gf_conf_key {
    const char *name;
    enum gf_conf_type type;
    const char *def; /* default as text, NULL = unset */
    long min, max;   /* bounds for INT/DURATION/SIZE */
    size_t offset;   /* offsetof(settings struct, field) */
    const char *help;
};

struct gf_conf_table {
    const struct gf_conf_key *keys;
    size_t nkeys;
    const char *env_prefix; /* "GATEFLEET_" or "GATEFLEET_AGENT_" */
};

/* Apply the table's defaults to settings (which must be zeroed). */
enum gf_err gf_conf_defaults(const struct gf_conf_table *t, void *settings,
                             struct gf_diag *diag);

/* Set one key from text. GF_ERR_CONFIG for an unknown key or a bad value (diag->where is
 * the key). */
enum gf_err gf_conf_set(const struct gf_conf_table *t, void *settings, const char *key,
                        const char *value, struct gf_diag *diag);

/* Parse a key = value file ('#' comments, blank lines). diag->where is "file:line". */
enum gf_err gf_conf_load_file(const struct gf_conf_table *t, void *settings, const char *path,
                              struct gf_diag *diag);

/* Apply every <env_prefix><KEY> variable present in the environment. A variable with the
 * prefix but no matching key is an error too (a typo must not be ignored). */
enum gf_err gf_conf_load_env(const struct gf_conf_table *t, void *settings,
                             struct gf_diag *diag);

/* Parse argv (from index *argi) for --key value / --key=value pairs until the first
 * argument that is not an option; *argi is left there. --config FILE is loaded in its place
 * in the order given; --print-config sets *print. Unknown --options are errors. */
enum gf_err gf_conf_load_args(const struct gf_conf_table *t, void *settings, int argc,
                              char **argv, int *argi, int *print, struct gf_diag *diag);

/* Full load: defaults, then --config file(s) from argv, then environment, then the rest of
 * argv. This is what binaries call. */
enum gf_err gf_conf_load(const struct gf_conf_table *t, void *settings, int argc, char **argv,
                         int *argi, int *print, struct gf_diag *diag);

/* Write the effective settings as a key = value file (values of keys named *password* or
 * *secret* are masked). */
void gf_conf_print(const struct gf_conf_table *t, const void *settings, FILE *out);

/* Write a Markdown table of the keys (for docs/configuration.md). */
void gf_conf_print_markdown(const struct gf_conf_table *t, FILE *out);

/* Free owned strings in settings. */
void gf_conf_free(const struct gf_conf_table *t, void *settings);

/* Split "host:port" / "[v6]:port" into host (bounded) and port. GF_ERR_INVAL when bad. */
enum gf_err gf_conf_split_hostport(const char *s, char *host, size_t hostcap, int *port);

#endif
