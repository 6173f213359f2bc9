/* SPDX-License-Identifier: Apache-2.0
 *
 * config.h - gatefleet-agent settings: one struct, one table (config.c), loaded like the
 * server's: --config FILE, GATEFLEET_AGENT_<KEY> environment variables, --<key> value.
 */
#ifndef GF_AGENT_CONFIG_H
#define GF_AGENT_CONFIG_H

#include "conf.h"

/* Plain value struct; strings owned, released with gf_agent_config_free(). */
struct gf_agent_config {
    char *server_url;
    char *enrollment_token;
    char *state_dir;
    char *procfs_root;
    char *sysfs_root;
    long health_interval;
    long spool_max_bytes;
    char *log_level;
    char *ca_file;
    char *broker_ca_file;
    char *node_name;
    long keepalive;
    long session_expiry;
    int spool_fsync;
    char *broker_url;
    char *actions_file;
    char *trust_file;
    long bundle_max_bytes;
    /* Commands (agent/cmd/cmd.h, docs/agent.md "Commands"). */
    char *commands_file;
    int commands_allow_shell;
    long commands_max_running;
    long commands_output_max;
    /* Log streams (agent/logs/logs.h, docs/agent.md "Log streams"). */
    char *log_files;
    char *log_units;
    long log_rate_lines;
    long log_rate_bytes;
    long log_streams_max;
};

extern const struct gf_conf_table gf_agent_config_table;

/* Load defaults, files, environment and argv (from *argi). Validates cross-key rules
 * (server_url scheme https://, or http:// only for loopback). GF_ERR_CONFIG with diag naming
 * the key. */
enum gf_err gf_agent_config_load(struct gf_agent_config *cfg, int argc, char **argv, int *argi,
                                 int *print, struct gf_diag *diag);

void gf_agent_config_free(struct gf_agent_config *cfg);

/* How long the agent waits for the server's ack before it sends a message again (a health
 * batch, a final bundle report): twice the keep-alive, at least 10 s, in milliseconds. */
long gf_agent_resend_ms(const struct gf_agent_config *cfg);

#endif
