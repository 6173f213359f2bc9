/* SPDX-License-Identifier: Apache-2.0
 *
 * q_bundles.c - SQL for signing keys, trust statements, bundles, blobs, node assignments and
 * bundle status (see q_bundles.h). Signed bytes (manifests, statements) are stored as bytea
 * and travel as UTF-8 text (convert_to/convert_from): they are JSON the server itself built.
 * Sealed secrets and signatures travel as hex.
 */
#include "q_bundles.h"

#include "q_sql.h"

#define KEY_JSON(k)                                                                                \
    "json_build_object('id', " k ".id, 'project_id', " k ".project_id, 'name', " k ".name,"        \
    " 'key_id', " k ".key_id, 'public_key', encode(" k ".public_key, 'hex'),"                      \
    " 'kind', " k ".kind,"                                                                         \
    " 'state', " k ".state, 'created_at', gf_ts(" k ".created_at),"                                \
    " 'retired_at', gf_ts(" k ".retired_at))::text"

#define BUNDLE_JSON(b)                                                                             \
    "json_build_object('id', " b ".id, 'project_id', " b ".project_id, 'name', " b ".name,"        \
    " 'version', " b ".version, 'status', " b ".status, 'manifest_sha256', " b                     \
    ".manifest_sha256, 'key_id', " b ".key_id, 'templated', " b ".templated,"                      \
    " 'description', " b ".description, 'target', " b ".target - 'selector_json',"                 \
    " 'parameters', " b ".parameters, 'created_at', gf_ts(" b ".created_at),"                      \
    " 'expires_at', gf_ts(" b ".expires_at), 'signed_at', gf_ts(" b ".signed_at),"                 \
    " 'unsigned_manifest', CASE WHEN " b ".status = 'unsigned'"                                    \
    " THEN encode(" b ".manifest, 'base64') END,"                                                  \
    " 'files', (SELECT coalesce(json_agg(json_build_object('path', f.path, 'sha256', f.sha256,"    \
    " 'size', f.size, 'mode', '0' || (f.mode >> 6) || ((f.mode >> 3) & 7) || (f.mode & 7), "       \
    "'template', f.template)"                                                                      \
    " ORDER BY f.path), '[]') FROM bundle_files f WHERE f.bundle_id = " b ".id))::text"

#define NODE_BUNDLE_JSON(nb)                                                                       \
    "json_build_object('node_id', " nb ".node_id, 'bundle_id', " nb ".bundle_id,"                  \
    " 'version', " nb ".version, 'manifest_sha256', " nb ".manifest_sha256,"                       \
    " 'assigned_at', gf_ts(" nb ".assigned_at), 'published', " nb ".published_gen >= " nb          \
    ".gen, 'publish_error', " nb ".publish_error, 'state', " nb ".state, 'reason', " nb            \
    ".reason, 'state_at', gf_ts(" nb ".state_at), 'applied_bundle_id', " nb                        \
    ".applied_bundle_id, 'applied_version', " nb ".applied_version, 'applied_sha256', " nb         \
    ".applied_sha256, 'applied_at', gf_ts(" nb ".applied_at), 'drift', " nb                        \
    ".applied_sha256 IS DISTINCT FROM " nb ".manifest_sha256)::text"

/* ------------------------------------------------------------------ keys and trust */

const struct gf_stmt gf_q_key_list = {
    "key_list",
    "SELECT " KEY_JSON("k") ", " GF_SQL_CURSOR(
        "k") " FROM signing_keys k"
             " WHERE k.project_id = $1 AND ($2::text IS NULL OR k.state = $2) AND " GF_SQL_AFTER(
                 "k", "$3", "$4") " ORDER BY k.created_at, k.id LIMIT $5",
    5};

const struct gf_stmt gf_q_key_insert = {
    "key_insert",
    "INSERT INTO signing_keys AS k (project_id, key_id, public_key, sealed_secret, kind, name,"
    " created_by, state) VALUES ($1, $2, decode($3, 'hex'), $4::bytea,"
    " CASE WHEN $4::text IS NULL THEN 'offline' ELSE 'server' END, $5, $6::uuid, 'pending')"
    " RETURNING " KEY_JSON("k") ", k.id",
    6};

const struct gf_stmt gf_q_key_get = {
    "key_get",
    "SELECT " KEY_JSON("k") ", k.project_id, k.key_id, k.state FROM signing_keys k"
                            " WHERE k.id = $1",
    1};

const struct gf_stmt gf_q_trust_lock = {
    "trust_lock", "SELECT pg_advisory_xact_lock(hashtextextended('trust/' || $1::text, 0))", 1};

const struct gf_stmt gf_q_trust_last = {
    "trust_last",
    "SELECT seq, key_id IS NOT NULL FROM trust_statements WHERE project_id = $1"
    " ORDER BY seq DESC LIMIT 1",
    1};

/* The next key set: active keys except $2 (retiring) plus $3 (joining). */
const struct gf_stmt gf_q_trust_next_keys = {
    "trust_next_keys",
    "SELECT key_id, encode(public_key, 'hex') FROM signing_keys WHERE project_id = $1"
    " AND ((state = 'active' AND key_id <> coalesce($2, '')) OR key_id = $3)"
    " ORDER BY created_at, id",
    3};

const struct gf_stmt gf_q_trust_signer = {
    "trust_signer",
    "SELECT key_id, sealed_secret FROM signing_keys WHERE project_id = $1"
    " AND sealed_secret IS NOT NULL AND (state = 'active' OR ($2 AND key_id = $3))"
    " ORDER BY created_at DESC, id LIMIT 1",
    3};

const struct gf_stmt gf_q_trust_insert = {
    "trust_insert",
    "INSERT INTO trust_statements (project_id, seq, statement, key_id, signature, signed_at)"
    " VALUES ($1, $2, convert_to($3, 'UTF8'), $4, decode($5, 'hex'),"
    " CASE WHEN $4::text IS NULL THEN NULL ELSE now() END)",
    5};

const struct gf_stmt gf_q_trust_pending = {
    "trust_pending",
    "SELECT seq, convert_from(statement, 'UTF8') FROM trust_statements"
    " WHERE project_id = $1 AND key_id IS NULL ORDER BY seq LIMIT 1",
    1};

const struct gf_stmt gf_q_trust_sign = {
    "trust_sign",
    "UPDATE trust_statements SET key_id = $3, signature = decode($4, 'hex'), signed_at = now()"
    " WHERE project_id = $1 AND seq = $2 AND key_id IS NULL",
    4};

/* Keys named in the array $2 become active; other non-retired keys retire, and a retired
 * server key's secret is erased: nothing the server holds can sign with it again. */
const struct gf_stmt gf_q_keys_apply = {
    "keys_apply",
    "UPDATE signing_keys SET state = CASE WHEN key_id = ANY ($2::text[]) THEN 'active'"
    " ELSE 'retired' END, retired_at = CASE WHEN key_id = ANY ($2::text[]) THEN NULL"
    " ELSE now() END, sealed_secret = CASE WHEN key_id = ANY ($2::text[]) THEN sealed_secret"
    " END WHERE project_id = $1 AND state <> 'retired'",
    2};

const struct gf_stmt gf_q_trust_key_pub = {
    "trust_key_pub",
    "SELECT encode(public_key, 'hex') FROM signing_keys WHERE project_id = $1 AND key_id = $2"
    " AND state = 'active'",
    2};

const struct gf_stmt gf_q_trust_current = {
    "trust_current",
    "SELECT seq, convert_from(statement, 'UTF8'), key_id, encode(signature, 'hex')"
    " FROM trust_statements WHERE project_id = $1 AND key_id IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1",
    1};

const struct gf_stmt gf_q_trust_after = {
    "trust_after",
    "SELECT seq, convert_from(statement, 'UTF8'), key_id, encode(signature, 'hex')"
    " FROM trust_statements WHERE project_id = $1 AND key_id IS NOT NULL AND seq > $2"
    " ORDER BY seq LIMIT 100",
    2};

/* ------------------------------------------------------------------ bundles and blobs */

const struct gf_stmt gf_q_bundle_lock = {
    "bundle_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended('bundle/' || $1::uuid::text || '/' || $2::text,"
    " 0))",
    2};

/* In its own statement after the lock: READ COMMITTED takes a new snapshot per statement,
 * so a concurrent upload that held the lock is visible here. */
const struct gf_stmt gf_q_bundle_next_version = {
    "bundle_next_version",
    "SELECT coalesce(max(version), 0) + 1 FROM bundles WHERE project_id = $1 AND name = $2", 2};

const struct gf_stmt gf_q_blob_put = {
    "blob_put",
    "INSERT INTO blobs (sha256, size, content) VALUES ($1, $2, $3::bytea)"
    " ON CONFLICT (sha256) DO NOTHING",
    3};

const struct gf_stmt gf_q_bundle_insert = {
    "bundle_insert",
    "INSERT INTO bundles (project_id, name, version, manifest, manifest_sha256, status, key_id,"
    " signature, templated, parameters, description, created_by, expires_at, target, signed_at)"
    " VALUES ($1, $2, $3, convert_to($4, 'UTF8'), $5, $6, $7, decode($8, 'hex'), $9,"
    " coalesce($10::jsonb, '{}'), $11, $12::uuid, $13, $14::jsonb,"
    " CASE WHEN $7::text IS NULL THEN NULL ELSE now() END) RETURNING id",
    14};

const struct gf_stmt gf_q_bundle_file_insert = {
    "bundle_file_insert",
    "INSERT INTO bundle_files (bundle_id, path, sha256, mode, size, template)"
    " VALUES ($1, $2, $3, $4, $5, $6)",
    6};

const struct gf_stmt gf_q_bundle_get = {
    "bundle_get", "SELECT " BUNDLE_JSON("b") " FROM bundles b WHERE b.id = $1", 1};

const struct gf_stmt gf_q_bundle_list = {
    "bundle_list",
    "SELECT " BUNDLE_JSON("b") ", " GF_SQL_CURSOR(
        "b") " FROM bundles b"
             " WHERE b.project_id = $1 AND ($2::text IS NULL OR b.name = $2)"
             " AND ($3::text IS NULL OR b.status = $3) AND " GF_SQL_AFTER(
                 "b", "$4", "$5") " ORDER BY b.created_at, b.id LIMIT $6",
    6};

const struct gf_stmt gf_q_bundle_signed = {
    "bundle_signed",
    "SELECT b.status, convert_from(b.manifest, 'UTF8'), b.key_id, encode(b.signature, 'hex'),"
    " b.project_id, b.templated, b.expires_at <= now(), b.name, b.version, b.manifest_sha256,"
    " b.parameters::text, b.target::text FROM bundles b WHERE b.id = $1",
    1};

const struct gf_stmt gf_q_bundle_sign = {
    "bundle_sign",
    "UPDATE bundles SET status = 'published', key_id = $2, signature = decode($3, 'hex'),"
    " signed_at = now() WHERE id = $1 AND status = 'unsigned'",
    3};

const struct gf_stmt gf_q_bundle_files = {
    "bundle_files",
    "SELECT f.path, f.sha256, f.size, f.mode, f.template,"
    " CASE WHEN f.template THEN convert_from(bl.content, 'UTF8') END"
    " FROM bundle_files f JOIN blobs bl ON bl.sha256 = f.sha256 WHERE f.bundle_id = $1"
    " ORDER BY f.path",
    1};

/* ------------------------------------------------------------------ assignment */

const struct gf_stmt gf_q_assign_node = {
    "assign_node",
    "SELECT n.project_id, n.status, n.labels::text, n.inventory->>'arch'"
    " FROM nodes n WHERE n.id = $1 FOR UPDATE",
    1};

const struct gf_stmt gf_q_node_bundle_put = {
    "node_bundle_put",
    "WITH up AS (INSERT INTO node_bundles AS nb (node_id, bundle_id, envelope, manifest_sha256,"
    " version, assigned_by) VALUES ($1, $2, $3, $4, $5, $6::uuid)"
    " ON CONFLICT (node_id) DO UPDATE SET bundle_id = $2, envelope = $3, manifest_sha256 = $4,"
    " version = $5, assigned_by = $6::uuid, assigned_at = now(), gen = nb.gen + 1,"
    " next_publish_at = now(), publish_error = NULL, cleared = false,"
    " state = CASE WHEN nb.applied_sha256 = $4 THEN 'applied' ELSE 'pending' END,"
    " reason = NULL, state_at = now() RETURNING nb.*)"
    " SELECT " NODE_BUNDLE_JSON("up") " FROM up",
    6};

const struct gf_stmt gf_q_node_files_clear = {
    "node_files_clear", "DELETE FROM node_bundle_files WHERE node_id = $1", 1};

const struct gf_stmt gf_q_blobs_put_batch = {
    "blobs_put_batch",
    "INSERT INTO blobs (sha256, size, content) SELECT b.key, (b.value->>'z')::bigint,"
    " decode(b.value->>'c', 'hex') FROM jsonb_each($1::jsonb) AS b"
    " ON CONFLICT (sha256) DO NOTHING",
    1};

/* Paths a node no longer has go; the others are inserted or repointed (one statement: a
 * delete and an insert of the same key in one statement would collide). */
const struct gf_stmt gf_q_node_files_replace = {
    "node_files_replace",
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(n uuid, p text, s text)),"
    " gone AS (DELETE FROM node_bundle_files f WHERE f.node_id IN (SELECT n FROM x)"
    " AND NOT EXISTS (SELECT 1 FROM x WHERE x.n = f.node_id AND x.p = f.path))"
    " INSERT INTO node_bundle_files (node_id, path, sha256) SELECT n, p, s FROM x"
    " ON CONFLICT (node_id, path) DO UPDATE SET sha256 = excluded.sha256",
    1};

const struct gf_stmt gf_q_node_bundle_get = {
    "node_bundle_get",
    "SELECT " NODE_BUNDLE_JSON("nb") " FROM node_bundles nb WHERE nb.node_id = $1", 1};

const struct gf_stmt gf_q_node_bundle_events = {
    "node_bundle_events",
    "SELECT coalesce(json_agg(json_build_object('bundle_id', e.bundle_id, 'version', e.version,"
    " 'state', e.state, 'reason', e.reason, 'at', gf_ts(e.at)) ORDER BY e.id), '[]')::text"
    " FROM (SELECT * FROM bundle_events WHERE node_id = $1 ORDER BY id DESC LIMIT 50) e",
    1};

const struct gf_stmt gf_q_drift_list = {
    "drift_list",
    "SELECT " NODE_BUNDLE_JSON("nb") ", " GF_SQL_CURSOR(
        "nb") " FROM (SELECT x.*, n.created_at, n.id FROM node_bundles x JOIN nodes n ON n.id = "
              "x.node_id"
              " WHERE n.project_id = $1 AND NOT x.cleared AND x.applied_sha256 IS DISTINCT FROM "
              "x.manifest_sha256) nb"
              " WHERE " GF_SQL_AFTER("nb", "$2", "$3") " ORDER BY nb.created_at, nb.id LIMIT $4",
    4};

/* ------------------------------------------------------------------ agents */

const struct gf_stmt gf_q_agent_node = {
    "agent_node", "SELECT encode(public_key, 'hex'), status, project_id FROM nodes WHERE id = $1",
    1};

const struct gf_stmt gf_q_agent_manifest = {
    "agent_manifest",
    "SELECT nb.envelope FROM node_bundles nb WHERE nb.node_id = $1 AND nb.bundle_id = $2"
    " AND NOT nb.cleared",
    2};

/* The blob when the node may read it: a file of a published bundle of its project, or one
 * of its own rendered files. $3 offset, $4 length (bytes). */
const struct gf_stmt gf_q_agent_blob = {
    "agent_blob",
    "SELECT bl.size, substring(bl.content FROM $3::int + 1 FOR $4::int) FROM blobs bl"
    " WHERE bl.sha256 = $2 AND (EXISTS (SELECT 1 FROM bundle_files f JOIN bundles b"
    " ON b.id = f.bundle_id JOIN nodes n ON n.project_id = b.project_id WHERE n.id = $1"
    " AND f.sha256 = $2 AND f.template = false AND b.status = 'published')"
    " OR EXISTS (SELECT 1 FROM node_bundle_files nf WHERE nf.node_id = $1 AND nf.sha256 = $2))",
    4};

/* ------------------------------------------------------------------ desired outbox */

/* $1 cluster, $2 limit: the due rows, oldest first, with their messages. Only node_bundles
 * is in FROM and everything else is looked up per row, so the plan is the outbox index in
 * order, stopping after $2 rows, whatever the statistics say: with a join, a planner that
 * underestimated the nodes (10,000 enrolled since the last ANALYZE) started from them and
 * read and sorted every due row for each batch (docs/performance.md). */
const struct gf_stmt gf_q_desired_due = {
    "desired_due",
    "SELECT nb.node_id, nb.gen, CASE WHEN nb.cleared THEN '' ELSE"
    " (SELECT json_build_object('bundle_id', b.id, 'name', b.name,"
    " 'version', nb.version, 'manifest_sha256', nb.manifest_sha256,"
    " 'manifest_url', '/api/v1/agent/bundles/' || b.id || '/manifest',"
    " 'trust_seq', (SELECT max(t.seq) FROM trust_statements t WHERE t.project_id = b.project_id"
    " AND t.key_id IS NOT NULL), 'gen', nb.gen)::text FROM bundles b WHERE b.id = nb.bundle_id)"
    " END FROM node_bundles nb"
    " WHERE nb.gen > nb.published_gen AND nb.next_publish_at <= now()"
    " AND (SELECT n.broker_cluster_id = $1 AND n.status = 'accepted' FROM nodes n"
    " WHERE n.id = nb.node_id)"
    " ORDER BY nb.next_publish_at LIMIT $2 FOR UPDATE OF nb SKIP LOCKED",
    2};

/* A new session with the cluster: publish every node's desired message again, since a broker
 * without persistence forgets retained messages when it restarts. */
const struct gf_stmt gf_q_desired_republish = {
    "desired_republish",
    "UPDATE node_bundles nb SET published_gen = 0, next_publish_at = now() FROM nodes n"
    " WHERE n.id = nb.node_id AND n.broker_cluster_id = $1 AND nb.published_gen > 0",
    1};

/* $1 [{n, g}]: published up to generation g. */
const struct gf_stmt gf_q_desired_done = {
    "desired_done",
    "UPDATE node_bundles nb SET published_gen = greatest(nb.published_gen, x.g),"
    " publish_error = NULL FROM jsonb_to_recordset($1::jsonb) AS x(n uuid, g bigint)"
    " WHERE nb.node_id = x.n",
    1};

/* $1 [{n, g}], $2 error: try again in 5 s. */
const struct gf_stmt gf_q_desired_failed = {
    "desired_failed",
    "UPDATE node_bundles nb SET publish_error = $2, next_publish_at = now() + interval '5 seconds'"
    " FROM jsonb_to_recordset($1::jsonb) AS x(n uuid, g bigint) WHERE nb.node_id = x.n",
    2};
