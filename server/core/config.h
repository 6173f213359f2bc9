/* SPDX-License-Identifier: Apache-2.0
 *
 * config.h - gatefleet-server settings: one struct, one table (config.c). Loaded from
 * --config FILE, GATEFLEET_<KEY> environment variables and --<key> value options.
 */
#ifndef GF_SERVER_CONFIG_H
#define GF_SERVER_CONFIG_H

#include "conf.h"

/* Plain value struct; strings owned, released with gf_server_config_free(). */
struct gf_server_config {
    char *listen;
    char *ready_file;
    char *database_url;
    char *state_dir;
    char *web_root;
    char *mqtt_url;
    char *master_key_file;
    char *log_level;
    char *tls_cert;
    char *tls_key;
    long http_threads;
    long db_pool_size;
    long max_body_bytes;
    long max_upload_bytes;
    long shutdown_timeout;
    long sse_max_clients;
    long sse_heartbeat;
    long sse_stall_timeout;
    long sse_max_duration;
    long sse_client_buffer;
    long events_ring;
    long events_ring_bytes;
    long session_ttl;
    long token_default_ttl;
    long login_max_failures;
    long login_max_failures_per_address;
    long login_window;
    char *pg_user;
    char *pg_bindir;
    long db_acquire_timeout;
    long health_retention_days;
    long ingest_writers;
    long ingest_batch;
    long ingest_queue;
    long ingest_queue_bytes;
    char *mqtt_ca_file;
    long mqtt_session_expiry;
    long replica_stale_s;
    long fleet_interval_ms;
    long mqtt_publishers;
    long desired_batch;
    long rollout_interval_ms;
};

/* The table (for gf_conf_* calls and docs). */
extern const struct gf_conf_table gf_server_config_table;

/* Load defaults, files, environment and argv (from *argi; stops at the first non-option).
 * Validates cross-key rules (tls_cert and tls_key together; mqtt_url scheme). GF_ERR_CONFIG
 * with diag naming the key. */
enum gf_err gf_server_config_load(struct gf_server_config *cfg, int argc, char **argv, int *argi,
                                  int *print, struct gf_diag *diag);

void gf_server_config_free(struct gf_server_config *cfg);

#endif
