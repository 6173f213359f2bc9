/* SPDX-License-Identifier: Apache-2.0
 *
 * config.c - the gatefleet-agent configuration table. Every key, its type, default, bounds
 * and help live here; `gatefleet-agent config-docs` prints it for docs/agent.md.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#define K(name, type, def, min, max, help)                                                     \
    {#name, type, def, min, max, offsetof(struct gf_agent_config, name), help}

static const struct gf_conf_key keys[] = {
    K(server_url, GF_CONF_STR, NULL, 0, 0,
      "gatefleet-server base URL (https://; http:// only to loopback, for tests)"),
    K(enrollment_token, GF_CONF_STR, NULL, 0, 0,
      "project enrollment token for the first enrollment (secret; not needed afterwards)"),
    K(state_dir, GF_CONF_STR, "/var/lib/gatefleet-agent", 0, 0,
      "identity key, spool and installed bundles"),
    K(procfs_root, GF_CONF_STR, "/proc", 0, 0, "procfs to read health from (tests: a fixture)"),
    K(sysfs_root, GF_CONF_STR, "/sys", 0, 0, "sysfs to read health from (tests: a fixture)"),
    K(health_interval, GF_CONF_DURATION, "30s", 1, 86400, "seconds between health samples"),
    K(spool_max_bytes, GF_CONF_SIZE, "64m", 65536, 64L * 1024 * 1024 * 1024,
      "on-disk telemetry spool cap; the oldest records are dropped (and counted) past it"),
    K(log_level, GF_CONF_LEVEL, "info", 0, 0, "debug, info, warn or error"),
    K(ca_file, GF_CONF_STR, NULL, 0, 0,
      "CA bundle (PEM) for the server's TLS certificate; unset = system store"),
    K(broker_ca_file, GF_CONF_STR, NULL, 0, 0,
      "CA bundle (PEM) for the broker; unset = ca_file, then the system store"),
    K(keepalive, GF_CONF_DURATION, "60s", 2, 3600,
      "MQTT keep-alive; the broker publishes the Will after 1.5 x this without traffic"),
    K(session_expiry, GF_CONF_DURATION, "1h", 0, 86400,
      "how long the broker keeps the agent's MQTT session while it is away, and with it the "
      "commands sent meanwhile (each only until its own deadline); 0 = clean sessions"),
    K(spool_fsync, GF_CONF_BOOL, "true", 0, 0,
      "fdatasync the spool on every append (turn off only for tests and benchmarks)"),
    K(broker_url, GF_CONF_STR, NULL, 0, 0,
      "override the broker URL the server hands out at enrollment (mqtt:// or mqtts://)"),
    K(node_name, GF_CONF_STR, NULL, 0, 0, "name proposed at enrollment; unset = hostname"),
    K(actions_file, GF_CONF_STR, NULL, 0, 0,
      "file mapping bundle apply action names to fixed command lines (docs/agent.md); unset = "
      "bundles with actions are refused"),
    K(trust_file, GF_CONF_STR, NULL, 0, 0,
      "pinned trust statement envelope (GET /projects/{id}/trust) for bundle signatures; unset "
      "= trust the project's first statement fetched from the server"),
    K(bundle_max_bytes, GF_CONF_SIZE, "256m", 65536, 64L * 1024 * 1024 * 1024,
      "disk the bundle blob cache may use while downloading"),
    K(commands_file, GF_CONF_STR, NULL, 0, 0,
      "file mapping command names to fixed command lines with checked {param:REGEX} arguments "
      "(docs/agent.md); unset = only the built-in commands"),
    K(commands_allow_shell, GF_CONF_BOOL, "false", 0, 0,
      "enable the shell command (/bin/sh -c with the caller's text); keep off in production"),
    K(commands_max_running, GF_CONF_INT, "4", 1, 64,
      "commands running at once; more are rejected as busy"),
    K(commands_output_max, GF_CONF_SIZE, "16k", 256, 32768,
      "bytes of a command's stdout+stderr kept in its result"),
    K(log_files, GF_CONF_STR, NULL, 0, 0,
      "log files a log stream may read: comma-separated absolute paths or glob patterns "
      "(fnmatch, * does not cross /); unset = none"),
    K(log_units, GF_CONF_STR, NULL, 0, 0,
      "systemd units whose journal a log stream may read, comma-separated; unset = none"),
    K(log_rate_lines, GF_CONF_INT, "50000", 1, 10000000, "lines per second per log stream"),
    K(log_rate_bytes, GF_CONF_SIZE, "4m", 1024, 1024L * 1024 * 1024,
      "bytes per second per log stream"),
    K(log_streams_max, GF_CONF_INT, "4", 1, 64, "log streams running at once"),
};

const struct gf_conf_table gf_agent_config_table = {
    keys, sizeof(keys) / sizeof(keys[0]), "GATEFLEET_AGENT_"};

static int loopback_http(const char *url)
{
    static const char *const hosts[] = {"http://127.", "http://localhost:", "http://localhost/",
                                        "http://[::1]"};

    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (strncmp(url, hosts[i], strlen(hosts[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

enum gf_err gf_agent_config_load(struct gf_agent_config *cfg, int argc, char **argv, int *argi,
                                 int *print, struct gf_diag *diag)
{
    enum gf_err err = gf_conf_load(&gf_agent_config_table, cfg, argc, argv, argi, print, diag);

    if (err != GF_OK) {
        return err;
    }
    if (cfg->server_url != NULL && strncmp(cfg->server_url, "https://", 8) != 0 &&
        !loopback_http(cfg->server_url)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "server_url",
                           "server_url: expected https://host[:port] (plain http:// is only "
                           "accepted for loopback addresses)");
    }
    if (cfg->state_dir == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "state_dir", "state_dir must not be empty");
    }
    return GF_OK;
}

void gf_agent_config_free(struct gf_agent_config *cfg)
{
    gf_conf_free(&gf_agent_config_table, cfg);
}

long gf_agent_resend_ms(const struct gf_agent_config *cfg)
{
    return (cfg->keepalive * 2 > 10 ? cfg->keepalive * 2 : 10) * 1000L;
}
