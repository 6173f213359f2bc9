/* SPDX-License-Identifier: Apache-2.0
 *
 * config.c - the gatefleet-server configuration table. Every key, its type, default,
 * bounds and help live here; docs/configuration.md is generated from this table
 * (gatefleet-server config-docs).
 */
#include "config.h"

#include "gf_limits.h"

#include <stddef.h>
#include <string.h>

#define K(name, type, def, min, max, help)                                                     \
    {#name, type, def, min, max, offsetof(struct gf_server_config, name), help}

static const struct gf_conf_key keys[] = {
    K(listen, GF_CONF_HOSTPORT, "127.0.0.1:8080", 0, 0,
      "HTTP(S) listen address host:port; port 0 picks a free port"),
    K(ready_file, GF_CONF_STR, NULL, 0, 0,
      "file written with the bound base URL once the server accepts requests"),
    K(database_url, GF_CONF_STR, NULL, 0, 0,
      "libpq connection string or URI; unset = private PostgreSQL under state_dir"),
    K(state_dir, GF_CONF_STR, "/var/lib/gatefleet", 0, 0,
      "directory for server state (embedded database, master key)"),
    K(web_root, GF_CONF_STR, "/usr/share/gatefleet/web", 0, 0,
      "directory of the static web dashboard served at /"),
    K(mqtt_url, GF_CONF_STR, "mqtt://127.0.0.1:1883", 0, 0,
      "local broker URL (mqtt:// or mqtts://) that scripts/run registers as a cluster"),
    K(master_key_file, GF_CONF_STR, NULL, 0, 0,
      "32-byte key sealing secrets at rest; unset = <state_dir>/master.key (created 0600)"),
    K(log_level, GF_CONF_LEVEL, "info", 0, 0, "debug, info, warn or error"),
    K(tls_cert, GF_CONF_STR, NULL, 0, 0, "PEM certificate chain; with tls_key enables HTTPS"),
    K(tls_key, GF_CONF_STR, NULL, 0, 0, "PEM private key for tls_cert"),
    K(http_threads, GF_CONF_INT, "4", 1, 256, "HTTP worker threads"),
    K(db_pool_size, GF_CONF_INT, "8", 1, 512, "PostgreSQL connections in the pool"),
    K(db_acquire_timeout, GF_CONF_DURATION, "10", 1, 300,
      "seconds a request waits for a pooled connection before 503"),
    K(max_body_bytes, GF_CONF_SIZE, "1m", 1024, GF_LIMIT_BODY_MAX,
      "largest accepted request body (413 above)"),
    K(max_upload_bytes, GF_CONF_SIZE, "96m", 1024, 256u * 1024u * 1024u,
      "largest bundle upload (multipart body, 413 above); only for callers with credentials"),
    K(shutdown_timeout, GF_CONF_DURATION, "20", 0, 3600,
      "seconds SIGTERM waits for in-flight requests"),
    K(sse_max_clients, GF_CONF_INT, "4096", 1, 100000,
      "event streams (SSE) served at once; more get 503 with Retry-After"),
    K(sse_heartbeat, GF_CONF_DURATION, "15", 1, 300,
      "seconds between `: keepalive` comments on an idle event stream"),
    K(sse_stall_timeout, GF_CONF_DURATION, "60", 2, 3600,
      "seconds an event stream client may take nothing while data waits before it is dropped"),
    K(sse_max_duration, GF_CONF_DURATION, "1h", 10, 86400,
      "longest event stream; the client reconnects (credentials checked again)"),
    K(sse_client_buffer, GF_CONF_SIZE, "64k", 40960, 1048576,
      "bytes an event stream holds for its client beyond the connection's own buffers"),
    K(events_ring, GF_CONF_INT, "8192", 16, 1000000,
      "latest project events kept in memory for live streams and quick resumes"),
    K(events_ring_bytes, GF_CONF_SIZE, "16m", 65536, 1073741824,
      "bytes of the project events kept in memory"),
    K(session_ttl, GF_CONF_DURATION, "12h", 60, 2592000, "lifetime of a web session"),
    K(token_default_ttl, GF_CONF_DURATION, "90d", 60, 31536000,
      "expiry of API tokens created without expires_at"),
    K(login_max_failures, GF_CONF_INT, "5", 1, 1000,
      "failed logins per account within login_window before 429"),
    K(login_max_failures_per_address, GF_CONF_INT, "30", 1, 100000,
      "failed logins per source address within login_window before 429"),
    K(login_window, GF_CONF_DURATION, "15m", 10, 86400, "window of the failed-login counters"),
    K(pg_user, GF_CONF_STR, "gatefleet", 0, 0,
      "system user running the embedded PostgreSQL when the server runs as root"),
    K(pg_bindir, GF_CONF_STR, NULL, 0, 0,
      "PostgreSQL binaries for the embedded database; unset = newest /usr/lib/postgresql/*/bin"),
    K(health_retention_days, GF_CONF_INT, "30", 1, 3650,
      "days of raw health samples kept (older daily partitions are dropped)"),
    K(ingest_writers, GF_CONF_INT, "2", 1, 16,
      "MQTT ingest writer threads, each with one database connection from the pool"),
    K(ingest_batch, GF_CONF_INT, "1000", 1, 10000, "agent messages per ingest transaction"),
    K(ingest_queue, GF_CONF_INT, "20000", 100, 10000000,
      "agent messages held in memory; past it health messages are dropped unacknowledged"),
    K(ingest_queue_bytes, GF_CONF_SIZE, "16m", 1048576, 4L * 1024 * 1024 * 1024,
      "payload bytes held in memory; past it health messages are dropped unacknowledged"),
    K(mqtt_ca_file, GF_CONF_STR, NULL, 0, 0,
      "CA bundle (PEM) for mqtts:// broker clusters; unset = system store"),
    K(mqtt_session_expiry, GF_CONF_DURATION, "120", 0, 86400,
      "seconds the broker keeps the ingest session (and queues for it) across a restart"),
    K(replica_stale_s, GF_CONF_DURATION, "30", 10, 3600,
      "silence after which another replica takes over a replica's ingest sessions and drains them"),
    K(fleet_interval_ms, GF_CONF_INT, "500", 50, 10000,
      "period of the fleet loop: cluster changes, broker accounts; overdue nodes every 1 s"),
    K(mqtt_publishers, GF_CONF_INT, "2", 1, 8,
      "MQTT sessions per broker cluster that publish desired states (nodes hashed among them)"),
    K(desired_batch, GF_CONF_INT, "2000", 1, 2000,
      "desired-state messages per outbox batch (one transaction, rows locked until acknowledged)"),
    K(rollout_interval_ms, GF_CONF_INT, "1000", 50, 60000,
      "longest pause between two steps of the rollout engine (statuses wake it at once)"),
};

const struct gf_conf_table gf_server_config_table = {
    keys, sizeof(keys) / sizeof(keys[0]), "GATEFLEET_"};

enum gf_err gf_server_config_load(struct gf_server_config *cfg, int argc, char **argv, int *argi,
                                  int *print, struct gf_diag *diag)
{
    enum gf_err err =
        gf_conf_load(&gf_server_config_table, cfg, argc, argv, argi, print, diag);

    if (err != GF_OK) {
        return err;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, cfg->tls_cert ? "tls_key" : "tls_cert",
                           "tls_cert and tls_key must be set together");
    }
    if (cfg->mqtt_url != NULL && strncmp(cfg->mqtt_url, "mqtt://", 7) != 0 &&
        strncmp(cfg->mqtt_url, "mqtts://", 8) != 0) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "mqtt_url",
                           "mqtt_url: expected mqtt://host:port or mqtts://host:port");
    }
    if (cfg->state_dir == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, "state_dir", "state_dir must not be empty");
    }
    return GF_OK;
}

void gf_server_config_free(struct gf_server_config *cfg)
{
    gf_conf_free(&gf_server_config_table, cfg);
}
