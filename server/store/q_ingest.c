/* SPDX-License-Identifier: Apache-2.0
 *
 * q_ingest.c - SQL of the MQTT ingest (see q_ingest.h). De-duplication: a record is stored
 * when its seq is above the (node, boot) high-water mark in telemetry_cursors, read after the
 * batch's node rows are locked (gf_q_ingest_lock, the statement before), so two replicas
 * handling the same record store it once; ON CONFLICT on the primary key is the second net.
 * Records with keep = false (older than retention) are not stored but still acknowledged.
 */
#include "q_ingest.h"

/* FOR NO KEY UPDATE: ingest batches still exclude each other (and status changes), but not
 * the KEY SHARE lock a foreign-key check takes on the node, so a rollout assigning the node
 * or recording one of its events never waits for an ingest batch holding it. */
const struct gf_stmt gf_q_ingest_lock = {
    "ingest_lock",
    "SELECT id FROM nodes WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)"
    " AND status = 'accepted' ORDER BY id FOR NO KEY UPDATE",
    1};

const struct gf_stmt gf_q_ingest_health = {
    "ingest_health",
    "WITH x AS (SELECT t.* FROM jsonb_to_recordset($1::jsonb)"
    "   AS t(n uuid, b text, s bigint, a timestamptz, v jsonb, k boolean)"
    "   JOIN nodes o ON o.id = t.n AND o.status = 'accepted'),"
    " cur AS MATERIALIZED (SELECT c.node_id, c.boot_id, c.seq FROM telemetry_cursors c"
    "   JOIN (SELECT DISTINCT n, b FROM x) k ON c.node_id = k.n AND c.boot_id = k.b),"
    " fresh AS (SELECT DISTINCT ON (x.n, x.b, x.s) x.* FROM x"
    "   LEFT JOIN cur ON cur.node_id = x.n AND cur.boot_id = x.b"
    "   WHERE x.k AND (cur.seq IS NULL OR x.s > cur.seq) ORDER BY x.n, x.b, x.s),"
    " ins AS (INSERT INTO health_samples (node_id, boot_id, seq, at, sample)"
    "   SELECT n, b, s, a, v FROM fresh ON CONFLICT DO NOTHING RETURNING 1),"
    " hw AS (INSERT INTO telemetry_cursors AS tc (node_id, boot_id, seq)"
    "   SELECT n, b, max(s) FROM x GROUP BY n, b"
    "   ON CONFLICT (node_id, boot_id) DO UPDATE SET seq = greatest(tc.seq, EXCLUDED.seq),"
    "   updated_at = now() RETURNING node_id, boot_id, seq),"
    " lat AS (SELECT DISTINCT ON (n) n, a, v FROM fresh ORDER BY n, a DESC, s DESC),"
    " upd AS (UPDATE nodes SET latest_health = lat.v, latest_health_at = lat.a FROM lat"
    "   WHERE nodes.id = lat.n AND (nodes.latest_health_at IS NULL"
    "   OR lat.a >= nodes.latest_health_at) RETURNING 1)"
    " SELECT hw.node_id, hw.boot_id, hw.seq, (SELECT count(*) FROM ins),"
    " (SELECT count(*) FROM upd) FROM hw",
    1};

const struct gf_stmt gf_q_ingest_seen = {
    "ingest_seen",
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "   AS t(n uuid, session bigint, boot text, dropped bigint)),"
    " up AS (UPDATE nodes SET last_seen_at = now(), health_dropped = x.dropped FROM x"
    "   WHERE nodes.id = x.n AND nodes.status = 'accepted'"
    "   RETURNING nodes.id, nodes.online, nodes.session_seq, x.session, x.boot)"
    " SELECT gf_node_seen(id, true, session, boot, 'telemetry') FROM up"
    " WHERE NOT online OR session_seq < session ORDER BY id",
    1};

const struct gf_stmt gf_q_ingest_presence = {
    "ingest_presence", "SELECT gf_node_seen($1::uuid, $2::bool, $3::bigint, $4, $5)", 5};

const struct gf_stmt gf_q_ingest_birth = {
    "ingest_birth",
    "UPDATE nodes SET inventory = $2::jsonb, agent_version = $3, health_interval_s = $4::int,"
    " keepalive_s = $5::int, clock_offset_ms = $6::bigint, boot_id = $7, last_seen_at = now()"
    " WHERE id = $1::uuid AND status = 'accepted' AND session_seq <= $8::bigint",
    8};

const struct gf_stmt gf_q_overdue = {
    "overdue",
    "WITH od AS (UPDATE nodes SET online = false, offline_reason = 'overdue'"
    "   WHERE online AND status = 'accepted' AND last_seen_at < now() - make_interval(secs =>"
    "   greatest(2 * coalesce(health_interval_s, 30), 1.25 * coalesce(keepalive_s, 60)))"
    "   RETURNING id, session_seq, boot_id)"
    " INSERT INTO node_presence (node_id, online, reason, session, boot_id)"
    " SELECT id, false, 'overdue', session_seq, boot_id FROM od RETURNING node_id",
    0};

const struct gf_stmt gf_q_health_partitions = {
    "health_partitions", "SELECT gf_health_partitions($1::int, $2::int)", 2};

const struct gf_stmt gf_q_health_retention = {
    "health_retention", "SELECT gf_health_retention($1::int)", 1};

const struct gf_stmt gf_q_cursor_prune = {
    "cursor_prune",
    "DELETE FROM telemetry_cursors WHERE updated_at < now() - make_interval(days => $1::int)",
    1};
