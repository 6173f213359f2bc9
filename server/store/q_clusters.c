/* SPDX-License-Identifier: Apache-2.0
 *
 * q_clusters.c - SQL for broker clusters and broker accounts (see q_clusters.h). The admin
 * password is sealed by the caller (core/secrets.c) and never selected back into JSON.
 */
#include "q_clusters.h"

#include "q_sql.h"

const struct gf_stmt gf_q_cluster_create = {
    "cluster_create",
    "INSERT INTO broker_clusters AS c (project_id, name, kind, agent_url, server_url,"
    " admin_username, admin_secret, created_by, endpoints)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::bytea, $8::uuid,"
    " jsonb_build_array(jsonb_build_object('url', $4::text, 'role', 'agent')))"
    " RETURNING " GF_SQL_CLUSTER_JSON("c") ", c.version, c.id",
    8};

const struct gf_stmt gf_q_cluster_list = {
    "cluster_list",
    "SELECT " GF_SQL_CLUSTER_JSON("c") ", " GF_SQL_CURSOR("c") " FROM broker_clusters c"
    " WHERE c.project_id = $1 AND " GF_SQL_AFTER("c", "$2", "$3")
    " ORDER BY c.created_at, c.id LIMIT $4",
    4};

const struct gf_stmt gf_q_cluster_get = {
    "cluster_get",
    "SELECT " GF_SQL_CLUSTER_JSON("c") ", c.version FROM broker_clusters c WHERE c.id = $1", 1};

const struct gf_stmt gf_q_cluster_delete = {"cluster_delete",
                                            "DELETE FROM broker_clusters WHERE id = $1", 1};

const struct gf_stmt gf_q_cluster_all = {
    "cluster_all",
    "SELECT id, project_id, kind, coalesce(server_url, agent_url), admin_username,"
    " admin_secret, version FROM broker_clusters ORDER BY id",
    0};

const struct gf_stmt gf_q_account_due = {
    "account_due",
    "SELECT username, node_id, want, cred_gen FROM broker_accounts"
    " WHERE cluster_id = $1 AND NOT done AND next_try_at <= now()"
    " ORDER BY next_try_at LIMIT $2::int FOR UPDATE SKIP LOCKED",
    2};

const struct gf_stmt gf_q_account_done = {
    "account_done",
    "WITH gone AS (DELETE FROM broker_accounts WHERE cluster_id = $1 AND username = $2"
    "  AND want = 'absent' RETURNING 1)"
    " UPDATE broker_accounts SET done = true, last_error = NULL, updated_at = now()"
    " WHERE cluster_id = $1 AND username = $2 AND want = 'present'",
    2};

const struct gf_stmt gf_q_account_failed = {
    "account_failed",
    "UPDATE broker_accounts SET attempts = attempts + 1, last_error = $3,"
    " next_try_at = now() + least(interval '5 minutes',"
    "   interval '1 second' * power(2, least(attempts, 10))), updated_at = now()"
    " WHERE cluster_id = $1 AND username = $2",
    3};

const struct gf_stmt gf_q_node_provisioned = {
    "node_provisioned", "UPDATE nodes SET provisioned = true WHERE id = $1", 1};

/* ------------------------------------------------------------------ replicas */

const struct gf_stmt gf_q_replica_beat = {
    "replica_beat",
    "INSERT INTO server_replicas (id, seen_at) VALUES ($1, now())"
    " ON CONFLICT (id) DO UPDATE SET seen_at = now(), taken_by = NULL, taken_at = NULL",
    1};

/* A claim whose taker went silent itself is taken again. */
const struct gf_stmt gf_q_replica_claim = {
    "replica_claim",
    "UPDATE server_replicas r SET taken_by = $1, taken_at = now()"
    " FROM (SELECT s.id FROM server_replicas s WHERE s.id <> $1"
    " AND s.seen_at < now() - make_interval(secs => $2::int)"
    " AND (s.taken_by IS NULL OR NOT EXISTS (SELECT 1 FROM server_replicas t"
    " WHERE t.id = s.taken_by AND t.seen_at >= now() - make_interval(secs => $2::int)))"
    " ORDER BY s.seen_at LIMIT 1 FOR UPDATE SKIP LOCKED) d"
    " WHERE r.id = d.id RETURNING r.id, r.seen_at < now() - make_interval(secs => $3::int)",
    3};

const struct gf_stmt gf_q_replica_forget = {
    "replica_forget", "DELETE FROM server_replicas WHERE id = $1 AND taken_by = $2", 2};

const struct gf_stmt gf_q_replica_release = {
    "replica_release",
    "UPDATE server_replicas SET taken_by = NULL, taken_at = NULL WHERE id = $1 AND taken_by = $2",
    2};

const struct gf_stmt gf_q_replica_release_mine = {
    "replica_release_mine",
    "UPDATE server_replicas SET taken_by = NULL, taken_at = NULL WHERE taken_by = $1", 1};
