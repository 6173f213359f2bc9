/* SPDX-License-Identifier: Apache-2.0
 *
 * q_nodes.c - SQL for nodes, admission and health reads (see q_nodes.h). Health series are
 * bucketed in PostgreSQL (date_bin) so a 30-day chart is a few hundred points whatever the
 * sample rate; values are read from the sample JSON with gf_num(), which yields NULL for
 * anything that is not a number (samples come from stations and are not trusted).
 */
#include "q_nodes.h"

#include "q_sql.h"

/* ILIKE pattern for free text: %, _ and \ in the text match themselves. */
#define LIKE_TEXT(p) "'%' || replace(replace(replace(" p ", '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"

const struct gf_stmt gf_q_node_list = {
    "node_list",
    "SELECT " GF_SQL_NODE_JSON("n") ", " GF_SQL_CURSOR("n") " FROM nodes n"
    " WHERE n.project_id = $1 AND ($2::text IS NULL OR n.status = $2)"
    " AND ($3::bool IS NULL OR (n.online = $3 AND n.status = 'accepted'))"
    " AND ($4::jsonb IS NULL OR " GF_SQL_SELECTOR("n.labels", "$4::jsonb") ")"
    " AND ($5::text IS NULL OR n.name ILIKE " LIKE_TEXT("$5")
    "      OR n.inventory->>'hostname' ILIKE " LIKE_TEXT("$5") ")"
    " AND " GF_SQL_AFTER("n", "$6", "$7") " ORDER BY n.created_at, n.id LIMIT $8",
    8};

const struct gf_stmt gf_q_node_get = {
    "node_get", "SELECT " GF_SQL_NODE_JSON("n") ", n.version FROM nodes n WHERE n.id = $1", 1};

const struct gf_stmt gf_q_node_update = {
    "node_update",
    "UPDATE nodes AS n SET name = coalesce($2, n.name), labels = coalesce($3::jsonb, n.labels),"
    " updated_at = now(), version = n.version + 1"
    " WHERE n.id = $1 AND ($4::int IS NULL OR n.version = $4::int)"
    " RETURNING " GF_SQL_NODE_JSON("n") ", n.version",
    4};

const struct gf_stmt gf_q_node_delete = {"node_delete", "DELETE FROM nodes WHERE id = $1", 1};

const struct gf_stmt gf_q_node_accept = {
    "node_accept",
    "UPDATE nodes AS n SET status = 'accepted', decided_by = $2::uuid, decided_at = now(),"
    " broker_cluster_id = coalesce(n.broker_cluster_id, (SELECT c.id FROM broker_clusters c"
    "   WHERE c.project_id = n.project_id ORDER BY c.created_at, c.id LIMIT 1)),"
    " cred_gen = CASE WHEN n.status = 'rejected' THEN n.cred_gen + 1 ELSE n.cred_gen END,"
    " updated_at = now(), version = n.version + 1"
    " WHERE n.id = $1 AND n.status <> 'decommissioned'"
    " RETURNING " GF_SQL_NODE_JSON("n") ", n.version, n.broker_cluster_id, n.cred_gen",
    2};

const struct gf_stmt gf_q_node_reject = {
    "node_reject",
    "UPDATE nodes AS n SET status = 'rejected', online = false, offline_reason = 'rejected',"
    " decided_by = $2::uuid, decided_at = now(), updated_at = now(), version = n.version + 1"
    " WHERE n.id = $1 AND n.status <> 'decommissioned'"
    " RETURNING " GF_SQL_NODE_JSON("n") ", n.version",
    2};

const struct gf_stmt gf_q_node_status = {
    "node_status", "SELECT status FROM nodes WHERE id = $1", 1};

const struct gf_stmt gf_q_node_preauth = {
    "node_preauth",
    "INSERT INTO nodes AS n (project_id, name, status, public_key, labels, decided_by,"
    " decided_at, broker_cluster_id)"
    " VALUES ($1, coalesce($2, ''), 'accepted', decode($3, 'hex'), coalesce($4::jsonb, '{}'),"
    " $5::uuid, now(), (SELECT c.id FROM broker_clusters c WHERE c.project_id = $1"
    "   ORDER BY c.created_at, c.id LIMIT 1))"
    " RETURNING " GF_SQL_NODE_JSON("n") ", n.version, n.id, n.cred_gen, n.broker_cluster_id",
    5};

/* Largest element of a numeric member of the objects in an array member of the sample. */
#define ARRAY_MAX(arr, field)                                                                   \
    "(SELECT max(gf_num(e->'" field "')) FROM jsonb_array_elements(CASE WHEN"                   \
    " jsonb_typeof(" arr ") = 'array' THEN " arr " ELSE '[]' END) e)"

const struct gf_stmt gf_q_health_series = {
    "health_series",
    "SELECT json_build_object('node_id', $1::uuid, 'from', gf_ts($2::timestamptz),"
    " 'to', gf_ts($3::timestamptz), 'step', $4::int, 'points', coalesce(json_agg(json_build_object("
    "  'at', gf_ts(b.bucket), 'samples', b.samples, 'cpu_pct', round(b.cpu::numeric, 2),"
    "  'cpu_pct_max', round(b.cpu_max::numeric, 2), 'load1', round(b.load1::numeric, 2),"
    "  'mem_pct', round(b.mem::numeric, 2), 'disk_pct_max', round(b.disk::numeric, 2),"
    "  'temp_c_max', round(b.temp::numeric, 1), 'battery_pct_min', b.battery,"
    "  'on_battery', b.on_battery, 'link_down', b.link_down) ORDER BY b.bucket), '[]'))::text"
    " FROM (SELECT date_bin(make_interval(secs => $4::int), s.at, $2::timestamptz) AS bucket,"
    "   count(*) AS samples, avg(gf_num(s.sample->'cpu'->'usage_pct')) AS cpu,"
    "   max(gf_num(s.sample->'cpu'->'usage_pct')) AS cpu_max,"
    "   avg(gf_num(s.sample->'cpu'->'load1')) AS load1,"
    "   avg(gf_num(s.sample->'memory'->'used_pct')) AS mem,"
    "   max(" ARRAY_MAX("s.sample->'disk'->'mounts'", "used_pct") ") AS disk,"
    "   max(" ARRAY_MAX("s.sample->'thermal'->'zones'", "temp_c") ") AS temp,"
    "   min(" ARRAY_MAX("s.sample->'power'->'supplies'", "capacity_pct") ") AS battery,"
    "   bool_or(s.sample->'power'->'on_battery' = 'true') AS on_battery,"
    "   bool_or(s.sample->'link'->'default_route' = 'false') AS link_down"
    "  FROM health_samples s WHERE s.node_id = $1 AND s.at >= $2::timestamptz"
    "  AND s.at < $3::timestamptz GROUP BY 1) b",
    4};

const struct gf_stmt gf_q_health_summary = {
    "health_summary",
    "SELECT json_build_object('project_id', $1::uuid, 'nodes', count(*),"
    " 'pending', count(*) FILTER (WHERE status = 'pending'),"
    " 'accepted', count(*) FILTER (WHERE status = 'accepted'),"
    " 'rejected', count(*) FILTER (WHERE status = 'rejected'),"
    " 'online', count(*) FILTER (WHERE status = 'accepted' AND online),"
    " 'offline', count(*) FILTER (WHERE status = 'accepted' AND NOT online),"
    " 'on_battery', count(*) FILTER (WHERE status = 'accepted' AND online"
    "   AND latest_health->'power'->'on_battery' = 'true'),"
    " 'link_down', count(*) FILTER (WHERE status = 'accepted' AND online"
    "   AND latest_health->'link'->'default_route' = 'false'),"
    " 'cpu_high', count(*) FILTER (WHERE status = 'accepted' AND online"
    "   AND gf_num(latest_health->'cpu'->'usage_pct') > 90),"
    " 'spool_dropped', coalesce(sum(health_dropped), 0))::text"
    " FROM nodes WHERE project_id = $1",
    1};

const struct gf_stmt gf_q_node_presence = {
    "node_presence",
    "SELECT coalesce(json_agg(json_build_object('at', gf_ts(x.at), 'online', x.online,"
    " 'reason', x.reason, 'session', x.session, 'boot_id', x.boot_id) ORDER BY x.id DESC),"
    " '[]')::text FROM (SELECT * FROM node_presence WHERE node_id = $1 ORDER BY id DESC"
    " LIMIT $2::int) x",
    2};
