/* SPDX-License-Identifier: Apache-2.0
 *
 * q_rollouts.c - SQL of rollouts (see q_rollouts.h and docs/internals/rollout.md). Every
 * step of the engine is one set-based statement over a rollout's targets, so a rollout of
 * ten thousand nodes costs a handful of statements per tick, not one per node.
 */
#include "q_rollouts.h"

#include "q_sql.h"

#define ROLLOUT_JSON(r)                                                                            \
    "json_build_object('id', " r ".id, 'project_id', " r ".project_id, 'bundle_id', " r            \
    ".bundle_id, 'name', " r ".name, 'state', " r ".state, 'pause_reason', " r ".pause_reason,"    \
    " 'reason', " r ".reason, 'current_wave', " r ".current_wave + 1, 'wave_count', " r            \
    ".wave_count, 'start_at', gf_ts(" r ".start_at), 'created_at', gf_ts(" r ".created_at),"       \
    " 'started_at', gf_ts(" r ".started_at), 'finished_at', gf_ts(" r ".finished_at),"             \
    " 'updated_at', gf_ts(" r ".updated_at), 'spec', " r ".spec)::text"

/* The candidate nodes of a rollout: accepted nodes of project $2 matching the selector $3
 * (jsonb, NULL = none) or listed in $4 (uuid[] text, NULL = none), with whether they fit
 * the bundle $5's own target (selector, architecture). */
#define CANDIDATES                                                                                 \
    "SELECT n.id, n.created_at, (b.target IS NULL OR ((b.target->'selector_json' IS NULL"          \
    " OR gf_selector_match(n.labels, b.target->'selector_json'))"                                  \
    " AND (coalesce(jsonb_array_length(b.target->'arch'), 0) = 0"                                  \
    " OR b.target->'arch' ? coalesce(n.inventory->>'arch', '')))) AS fit"                          \
    " FROM nodes n JOIN bundles b ON b.id = $5"                                                    \
    " WHERE n.project_id = $2 AND n.status = 'accepted'"                                           \
    " AND (($3::jsonb IS NOT NULL AND " GF_SQL_SELECTOR("n.labels", "$3::jsonb") ")"              \
    " OR n.id = ANY($4::uuid[]))"

const struct gf_stmt gf_q_rollout_insert = {
    "rollout_insert",
    "INSERT INTO rollouts (project_id, bundle_id, name, state, spec, wave_count, start_at,"
    " created_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6::int, $7::timestamptz, $8::uuid)"
    " RETURNING id",
    8};

const struct gf_stmt gf_q_rollout_get = {
    "rollout_get", "SELECT " ROLLOUT_JSON("r") " FROM rollouts r WHERE r.id = $1", 1};

const struct gf_stmt gf_q_rollout_list = {
    "rollout_list",
    "SELECT " ROLLOUT_JSON("r") ", " GF_SQL_CURSOR(
        "r") " FROM rollouts r"
             " WHERE r.project_id = $1 AND ($2::text IS NULL OR r.state = $2)"
             " AND " GF_SQL_AFTER("r", "$3", "$4") " ORDER BY r.created_at, r.id LIMIT $5",
    5};

const struct gf_stmt gf_q_rollout_ids_unknown = {
    "rollout_ids_unknown",
    "SELECT x.id FROM unnest($2::uuid[]) x(id) WHERE NOT EXISTS (SELECT 1 FROM nodes n"
    " WHERE n.id = x.id AND n.project_id = $1) LIMIT 5",
    2};

const struct gf_stmt gf_q_rollout_conflicts = {
    "rollout_conflicts",
    "SELECT t.node_id, t.rollout_id FROM rollout_targets t JOIN (" CANDIDATES ") c"
    " ON c.id = t.node_id WHERE t.holds AND c.fit AND t.rollout_id <> $1 ORDER BY t.node_id"
    " LIMIT 10",
    5};

/* One pass over the candidates: $6 bigint[] and $7 float8[] are each wave's cumulative
 * node count or percentage (waves 0..n-2; the last takes the rest), $8 the first wave of
 * these targets. A candidate held by another rollout is skipped by the unique index; the
 * caller compares the two counts returned (inserted, fitting) to refuse the start. */
const struct gf_stmt gf_q_rollout_snapshot = {
    "rollout_snapshot",
    "WITH f AS (SELECT x.*, row_number() OVER (PARTITION BY x.fit ORDER BY x.created_at, x.id)"
    " AS rn, count(*) FILTER (WHERE x.fit) OVER () AS total FROM (" CANDIDATES ") x"
    " WHERE NOT EXISTS (SELECT 1 FROM rollout_targets o WHERE o.rollout_id = $1"
    " AND o.node_id = x.id)),"
    " ins AS (INSERT INTO rollout_targets (rollout_id, node_id, wave, state, error, holds,"
    " finished_at) SELECT $1, f.id, CASE WHEN f.fit THEN greatest($8::int, (SELECT count(*)"
    " FROM unnest($6::bigint[], $7::float8[]) AS w(n, p) WHERE least(f.total, CASE WHEN w.n > 0"
    " THEN w.n ELSE ceil(w.p * f.total / 100.0)::bigint END) <= f.rn - 1)) ELSE 0 END,"
    " CASE WHEN f.fit THEN 'pending' ELSE 'skipped' END,"
    " CASE WHEN f.fit THEN NULL ELSE 'filtered out: the bundle''s target does not fit the node'"
    " END, f.fit, CASE WHEN f.fit THEN NULL ELSE now() END FROM f"
    " ON CONFLICT DO NOTHING RETURNING holds)"
    " SELECT (SELECT count(*) FROM ins WHERE holds), (SELECT count(*) FROM f WHERE fit)",
    8};

/* ------------------------------------------------------------------ engine */

const struct gf_stmt gf_q_rollout_active = {
    "rollout_active",
    "SELECT id FROM rollouts WHERE state IN ('scheduled', 'running', 'paused')"
    " ORDER BY updated_at LIMIT 1000",
    0};

#define ROLLOUT_LOCKED                                                                             \
    "SELECT r.id, r.project_id, p.tenant_id, r.bundle_id, r.state, r.pause_reason, r.spec::text,"  \
    " r.wave_count, r.current_wave, (r.start_at IS NULL OR r.start_at <= now()),"                  \
    " b.templated, b.manifest_sha256, b.version, r.name,"                                          \
    " (r.joined_at IS NULL OR r.joined_at < now() - interval '5 seconds')"                         \
    " FROM rollouts r JOIN projects p ON p.id = r.project_id JOIN bundles b ON b.id = r.bundle_id" \
    " WHERE r.id = $1 FOR UPDATE OF r"

/* The engine passes over a rollout another transaction holds; an operator waits for it. */
const struct gf_stmt gf_q_rollout_lock = {"rollout_lock", ROLLOUT_LOCKED " SKIP LOCKED", 1};
const struct gf_stmt gf_q_rollout_lock_wait = {"rollout_lock_wait", ROLLOUT_LOCKED, 1};

/* $1 id, $2 state, $3 pause reason, $4 reason, $5 current wave */
const struct gf_stmt gf_q_rollout_set = {
    "rollout_set",
    "WITH r AS (UPDATE rollouts SET state = $2, pause_reason = $3, reason = $4,"
    " current_wave = $5::int, updated_at = now(),"
    " started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,"
    " finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'cancelled') THEN now() END"
    " WHERE id = $1 RETURNING *)"
    " UPDATE rollout_targets SET holds = false"
    " WHERE rollout_id = $1 AND holds AND $2 IN ('succeeded', 'failed', 'cancelled')",
    5};

const struct gf_stmt gf_q_rollout_touch = {
    "rollout_touch",
    "UPDATE rollouts SET updated_at = now(), joined_at = CASE WHEN $2::bool"
    " THEN now() ELSE joined_at END WHERE id = $1",
    2};

/* In-flight targets past their deadline: retried ($2 retries for timeouts; backoff $4 s
 * doubling per attempt), skipped when offline and $3, else timed out. */
const struct gf_stmt gf_q_rollout_timeouts = {
    "rollout_timeouts",
    "UPDATE rollout_targets t SET"
    " state = CASE WHEN t.attempts <= $2::int THEN 'pending'"
    " WHEN $3::bool AND NOT n.online THEN 'skipped' ELSE 'timed_out' END,"
    " error = CASE WHEN $3::bool AND NOT n.online AND t.attempts > $2::int"
    " THEN 'offline past its deadline' ELSE 'no final status within node_timeout_s' END,"
    " next_at = CASE WHEN t.attempts <= $2::int THEN now() + make_interval(secs =>"
    " $4::int * power(2, t.attempts - 1)) END,"
    " finished_at = CASE WHEN t.attempts <= $2::int THEN NULL ELSE now() END, updated_at = now()"
    " FROM nodes n WHERE n.id = t.node_id AND t.rollout_id = $1"
    " AND t.state IN ('notified', 'downloading', 'applying') AND t.deadline_at < now()"
    " RETURNING t.node_id, t.state",
    4};

/* Failed and rolled-back targets with retries left ($2, $3) go back to pending. */
const struct gf_stmt gf_q_rollout_retries = {
    "rollout_retries",
    "UPDATE rollout_targets SET state = 'pending', finished_at = NULL, updated_at = now(),"
    " next_at = now() + make_interval(secs => $4::int * power(2, attempts - 1))"
    " WHERE rollout_id = $1 AND ((state = 'failed' AND attempts <= $2::int)"
    " OR (state = 'rolled_back' AND attempts <= $3::int)) RETURNING node_id",
    4};

/* Counts per wave and state; then targets notified in the last minute and notifications in
 * all (the rate limit), and those finished in the last 5 minutes (the ETA). */
const struct gf_stmt gf_q_rollout_counts = {
    "rollout_counts",
    "SELECT wave, state, count(*) FROM rollout_targets WHERE rollout_id = $1 GROUP BY 1, 2", 1};

const struct gf_stmt gf_q_rollout_rate = {
    "rollout_rate",
    "SELECT count(*) FILTER (WHERE notified_at > now() - interval '1 minute'),"
    " coalesce(sum(attempts), 0),"
    " count(*) FILTER (WHERE finished_at > now() - interval '5 minutes')"
    " FROM rollout_targets WHERE rollout_id = $1",
    1};

/* In a `pick` of targets t joined to their node_bundles nb: the node's rendered files, kept
 * with its previous desired state for a cancel (NULL when it has none). */
#define PREV_FILES                                                                                 \
    "CASE WHEN NOT nb.cleared THEN (SELECT jsonb_agg(jsonb_build_object('p', f.path, 's',"         \
    " f.sha256)) FROM node_bundle_files f WHERE f.node_id = t.node_id) END"

/* The node's desired state before its first notification (pick p: pb, pe, ps, pv, pf). A
 * target that failed before it was ever notified (its template did not render) has
 * attempts but no notified_at. */
#define KEEP_PREV                                                                                  \
    "prev_bundle_id = CASE WHEN t.notified_at IS NULL THEN p.pb ELSE t.prev_bundle_id END,"        \
    " prev_envelope = CASE WHEN t.notified_at IS NULL THEN p.pe ELSE t.prev_envelope END,"         \
    " prev_sha256 = CASE WHEN t.notified_at IS NULL THEN p.ps ELSE t.prev_sha256 END,"             \
    " prev_version = CASE WHEN t.notified_at IS NULL THEN p.pv ELSE t.prev_version END,"           \
    " prev_files = CASE WHEN t.notified_at IS NULL THEN p.pf ELSE t.prev_files END"

/* Notify up to $3 pending targets of waves <= $2 whose retry time has come: the bundle
 * ($4 id, $5 envelope, $6 sha, $7 version) becomes their desired state (the outbox then
 * publishes it), the previous desired state is kept for a cancel, deadline = now + $8 s.
 * For bundles that are not templated: one envelope for every node. */
const struct gf_stmt gf_q_rollout_notify = {
    "rollout_notify",
    "WITH pick AS (SELECT t.node_id, t.attempts, nb.gen AS old_gen,"
    " CASE WHEN NOT nb.cleared THEN nb.bundle_id END AS pb,"
    " CASE WHEN NOT nb.cleared THEN nb.envelope END AS pe,"
    " CASE WHEN NOT nb.cleared THEN nb.manifest_sha256 END AS ps,"
    " CASE WHEN NOT nb.cleared THEN nb.version END AS pv, " PREV_FILES " AS pf"
    " FROM rollout_targets t LEFT JOIN node_bundles nb ON nb.node_id = t.node_id"
    " WHERE t.rollout_id = $1 AND t.state = 'pending' AND t.wave <= $2::int"
    " AND (t.next_at IS NULL OR t.next_at <= now())"
    " ORDER BY t.wave, t.next_at NULLS FIRST, t.node_id LIMIT $3::int FOR UPDATE OF t),"
    " files AS (DELETE FROM node_bundle_files WHERE node_id IN (SELECT node_id FROM pick)),"
    " up AS (INSERT INTO node_bundles AS nb (node_id, bundle_id, envelope, manifest_sha256,"
    " version) SELECT node_id, $4, $5, $6, $7::bigint FROM pick"
    " ON CONFLICT (node_id) DO UPDATE SET bundle_id = $4, envelope = $5, manifest_sha256 = $6,"
    " version = $7::bigint, assigned_by = NULL, assigned_at = now(), gen = nb.gen + 1,"
    " next_publish_at = now(), publish_error = NULL, cleared = false,"
    " state = CASE WHEN nb.applied_sha256 = $6 THEN 'applied' ELSE 'pending' END,"
    " reason = NULL, state_at = now())"
    /* The new gen is the old one + 1 (1 for a new row), as `up` makes it: joining `up`
     * itself would be a join of two CTEs without statistics, quadratic in the batch. */
    " UPDATE rollout_targets t SET state = 'notified', attempts = t.attempts + 1,"
    " notified_at = now(), deadline_at = now() + make_interval(secs => $8::int),"
    " gen = coalesce(p.old_gen, 0) + 1, next_at = NULL, updated_at = now(), " KEEP_PREV
    " FROM pick p WHERE t.rollout_id = $1 AND t.node_id = p.node_id RETURNING t.node_id",
    8};

/* Templated bundles (step.c): the pending targets due, as gf_q_rollout_notify picks them,
 * with their nodes' labels to render each one's instance. */
const struct gf_stmt gf_q_rollout_pick = {
    "rollout_pick",
    "SELECT t.node_id, n.labels::text FROM rollout_targets t JOIN nodes n ON n.id = t.node_id"
    " WHERE t.rollout_id = $1 AND t.state = 'pending' AND t.wave <= $2::int"
    " AND (t.next_at IS NULL OR t.next_at <= now())"
    " ORDER BY t.wave, t.next_at NULLS FIRST, t.node_id LIMIT $3::int FOR UPDATE OF t",
    3};

/* gf_q_rollout_notify for nodes' own instances: $5 [{n, env, sha}] (bundles/pernode.h) of
 * bundle $2 version $3; deadline = now + $4 s. The caller stores the instances' files
 * after this statement (it keeps the previous ones for a cancel). */
const struct gf_stmt gf_q_rollout_notify_each = {
    "rollout_notify_each",
    "WITH x AS (SELECT * FROM jsonb_to_recordset($5::jsonb) AS x(n uuid, env text, sha text)),"
    " pick AS (SELECT t.node_id, x.env, x.sha, nb.gen AS old_gen,"
    " CASE WHEN NOT nb.cleared THEN nb.bundle_id END AS pb,"
    " CASE WHEN NOT nb.cleared THEN nb.envelope END AS pe,"
    " CASE WHEN NOT nb.cleared THEN nb.manifest_sha256 END AS ps,"
    " CASE WHEN NOT nb.cleared THEN nb.version END AS pv, " PREV_FILES " AS pf"
    " FROM x JOIN rollout_targets t ON t.rollout_id = $1 AND t.node_id = x.n"
    " AND t.state = 'pending' LEFT JOIN node_bundles nb ON nb.node_id = t.node_id),"
    " up AS (INSERT INTO node_bundles AS nb (node_id, bundle_id, envelope, manifest_sha256,"
    " version) SELECT node_id, $2, env, sha, $3::bigint FROM pick"
    " ON CONFLICT (node_id) DO UPDATE SET bundle_id = $2, envelope = excluded.envelope,"
    " manifest_sha256 = excluded.manifest_sha256, version = $3::bigint, assigned_by = NULL,"
    " assigned_at = now(), gen = nb.gen + 1, next_publish_at = now(), publish_error = NULL,"
    " cleared = false, state = CASE WHEN nb.applied_sha256 = excluded.manifest_sha256"
    " THEN 'applied' ELSE 'pending' END, reason = NULL, state_at = now())"
    " UPDATE rollout_targets t SET state = 'notified', attempts = t.attempts + 1,"
    " notified_at = now(), deadline_at = now() + make_interval(secs => $4::int),"
    " gen = coalesce(p.old_gen, 0) + 1, next_at = NULL, updated_at = now(), " KEEP_PREV
    " FROM pick p WHERE t.rollout_id = $1 AND t.node_id = p.node_id RETURNING t.node_id",
    5};

/* Targets whose instance cannot be made ($2 [{n, e}]: node, why) fail without a
 * notification; their node's desired state is left as it was. */
const struct gf_stmt gf_q_rollout_render_failed = {
    "rollout_render_failed",
    "UPDATE rollout_targets t SET state = 'failed', error = x.e, attempts = t.attempts + 1,"
    " next_at = NULL, finished_at = now(), updated_at = now()"
    " FROM jsonb_to_recordset($2::jsonb) AS x(n uuid, e text)"
    " WHERE t.rollout_id = $1 AND t.node_id = x.n AND t.state = 'pending'",
    2};

/* Stop: pending targets are cancelled (abort and cancel alike) and let go of their nodes in
 * the same statement (one update of each row, not a second one later in the transaction). */
const struct gf_stmt gf_q_rollout_cancel_pending = {
    "rollout_cancel_pending",
    "UPDATE rollout_targets SET state = 'cancelled', error = $2, finished_at = now(),"
    " updated_at = now(), holds = false WHERE rollout_id = $1 AND state = 'pending'",
    2};

/* Cancel: targets notified but not started get their previous desired state back (or an
 * empty one, when they had none), rendered files included, then are cancelled (and let go,
 * as in gf_q_rollout_cancel_pending). $2 the rollout's bundle. */
const struct gf_stmt gf_q_rollout_restore = {
    "rollout_restore",
    "WITH t AS (SELECT * FROM rollout_targets WHERE rollout_id = $1 AND state = 'notified'"
    " FOR UPDATE),"
    " back AS (UPDATE node_bundles nb SET bundle_id = coalesce(t.prev_bundle_id, nb.bundle_id),"
    " envelope = coalesce(t.prev_envelope, nb.envelope),"
    " manifest_sha256 = coalesce(t.prev_sha256, nb.manifest_sha256),"
    " version = coalesce(t.prev_version, nb.version), cleared = t.prev_bundle_id IS NULL,"
    " gen = nb.gen + 1, next_publish_at = now(), publish_error = NULL, assigned_at = now(),"
    " state = CASE WHEN t.prev_bundle_id IS NOT NULL AND nb.applied_sha256 = t.prev_sha256"
    " THEN 'applied' ELSE 'pending' END, reason = NULL, state_at = now()"
    " FROM t WHERE nb.node_id = t.node_id AND nb.bundle_id = $2 RETURNING nb.node_id),"
    " pf AS (SELECT b.node_id, f.p, f.s FROM back b JOIN t ON t.node_id = b.node_id,"
    " jsonb_to_recordset(coalesce(t.prev_files, '[]')) AS f(p text, s text)),"
    " gone AS (DELETE FROM node_bundle_files f USING back b WHERE f.node_id = b.node_id"
    " AND NOT EXISTS (SELECT 1 FROM pf WHERE pf.node_id = f.node_id AND pf.p = f.path)),"
    " files AS (INSERT INTO node_bundle_files (node_id, path, sha256) SELECT node_id, p, s"
    " FROM pf ON CONFLICT (node_id, path) DO UPDATE SET sha256 = excluded.sha256)"
    " UPDATE rollout_targets x SET state = 'cancelled', error = 'cancelled before it started;"
    " previous desired state restored', finished_at = now(), updated_at = now(), holds = false"
    " FROM t WHERE x.rollout_id = t.rollout_id AND x.node_id = t.node_id",
    2};

/* ------------------------------------------------------------------ REST reads */

const struct gf_stmt gf_q_rollout_waves = {
    "rollout_waves",
    "SELECT coalesce(json_agg(w ORDER BY w.wave), '[]')::text FROM (SELECT wave + 1 AS wave,"
    " sum(n)::bigint AS targets, json_object_agg(state, n) AS states FROM (SELECT wave, state,"
    " count(*) AS n FROM rollout_targets WHERE rollout_id = $1 GROUP BY 1, 2) s GROUP BY wave) w",
    1};

const struct gf_stmt gf_q_rollout_targets = {
    "rollout_targets",
    "SELECT json_build_object('node_id', t.node_id, 'name', n.name, 'wave', t.wave + 1, 'state',"
    " t.state, 'error', t.error, 'attempts', t.attempts, 'online', n.online, 'notified_at',"
    " gf_ts(t.notified_at), 'deadline_at', gf_ts(t.deadline_at), 'finished_at',"
    " gf_ts(t.finished_at), 'next_attempt_at', gf_ts(t.next_at))::text, '0.' || t.node_id"
    " FROM rollout_targets t JOIN nodes n ON n.id = t.node_id WHERE t.rollout_id = $1"
    " AND ($2::text IS NULL OR t.state = $2) AND ($3::int IS NULL OR t.wave = $3::int - 1)"
    " AND ($4::text IS NULL OR t.error ILIKE '%' || $4 || '%')"
    " AND ($5::uuid IS NULL OR t.node_id > $5::uuid) ORDER BY t.node_id LIMIT $6",
    6};

/* ------------------------------------------------------------------ bundle/status */

/* $1: [{n, bundle, version, sha, state, reason, gen, o}] in arrival order (o). Every
 * status is a bundle event; the node's assignment follows its last status for the desired
 * bundle and its last `applied` of a bundle of its own project; rollout targets in flight
 * for that bundle follow the node's last status (a status of an older notification, by
 * gen, is ignored); each rollout so changed is woken through NOTIFY gf_rollout. */
const struct gf_stmt gf_q_bundle_status_batch = {
    "bundle_status_batch",
    "WITH s AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(n uuid, bundle uuid,"
    " version bigint, sha text, state text, reason text, gen bigint, o int)),"
    " sn AS (SELECT s.*, (SELECT bu.id FROM bundles bu WHERE bu.id = s.bundle"
    " AND bu.project_id = nd.project_id) AS own FROM s JOIN nodes nd ON nd.id = s.n),"
    " ev AS (INSERT INTO bundle_events (node_id, bundle_id, version, state, reason)"
    " SELECT n, bundle, version, state, reason FROM sn ORDER BY o),"
    " la AS (SELECT DISTINCT ON (n) n, own, version, sha FROM sn"
    " WHERE state = 'applied' AND own IS NOT NULL ORDER BY n, o DESC),"
    " ls AS (SELECT DISTINCT ON (sn.n) sn.n, sn.state, sn.reason FROM sn JOIN node_bundles nb"
    " ON nb.node_id = sn.n AND nb.bundle_id = sn.bundle ORDER BY sn.n, sn.o DESC),"
    " x AS (SELECT coalesce(la.n, ls.n) AS n, la.own, la.version, la.sha, ls.state, ls.reason"
    " FROM la FULL JOIN ls ON la.n = ls.n),"
    " nb AS (UPDATE node_bundles nb SET state = coalesce(x.state, nb.state),"
    " reason = CASE WHEN x.state IS NOT NULL THEN x.reason ELSE nb.reason END,"
    " state_at = CASE WHEN x.state IS NOT NULL THEN now() ELSE nb.state_at END,"
    " applied_bundle_id = coalesce(x.own, nb.applied_bundle_id),"
    " applied_version = CASE WHEN x.own IS NOT NULL THEN x.version ELSE nb.applied_version END,"
    " applied_sha256 = CASE WHEN x.own IS NOT NULL THEN x.sha ELSE nb.applied_sha256 END,"
    " applied_at = CASE WHEN x.own IS NOT NULL THEN now() ELSE nb.applied_at END"
    " FROM x WHERE nb.node_id = x.n),"
    " lt AS (SELECT DISTINCT ON (n, bundle) n, bundle, state, reason, gen FROM sn"
    " WHERE bundle IS NOT NULL ORDER BY n, bundle, o DESC),"
    " rt AS (UPDATE rollout_targets t SET"
    " state = CASE lt.state WHEN 'verifying' THEN 'downloading' ELSE lt.state END,"
    " error = CASE WHEN lt.state IN ('failed', 'rolled_back') THEN lt.reason ELSE t.error END,"
    " finished_at = CASE WHEN lt.state IN ('applied', 'failed', 'rolled_back') THEN now() END,"
    " updated_at = now() FROM lt JOIN rollouts r ON r.bundle_id = lt.bundle"
    " WHERE t.rollout_id = r.id AND t.node_id = lt.n"
    " AND t.state IN ('notified', 'downloading', 'applying')"
    " AND (lt.gen IS NULL OR t.gen IS NULL OR lt.gen >= t.gen) RETURNING t.rollout_id)"
    " SELECT pg_notify('gf_rollout', rollout_id::text) FROM (SELECT DISTINCT rollout_id FROM rt) w",
    1};

/* ------------------------------------------------------------------ events */

/* $1 id, $2 kind, $3 detail jsonb or NULL, $4 system (bool): the project's feed, an audit
 * event by the system when the engine made the change, and a wake-up for every engine. */
const struct gf_stmt gf_q_rollout_event = {
    "rollout_event",
    "WITH r AS (SELECT r.id, r.project_id, p.tenant_id, r.state, r.pause_reason, r.reason,"
    " r.current_wave FROM rollouts r JOIN projects p ON p.id = r.project_id WHERE r.id = $1),"
    " d AS (SELECT jsonb_build_object('rollout_id', id, 'state', state, 'pause_reason',"
    " pause_reason, 'reason', reason, 'wave', current_wave + 1) || coalesce($3::jsonb, '{}') AS j,"
    " r.* FROM r),"
    " pe AS (INSERT INTO project_events (project_id, kind, data)"
    " SELECT project_id, 'rollout.' || $2, j FROM d),"
    " au AS (INSERT INTO audit_events (tenant_id, actor_type, actor_label, action, object_type,"
    " object_id, outcome, detail) SELECT tenant_id, 'system', 'rollout engine', 'rollout.' || $2,"
    " 'rollout', id::text, 'success', j FROM d WHERE $4::bool)"
    " SELECT pg_notify('gf_rollout', $1::text)",
    4};

/* $1 name -> whether PostgreSQL knows the time zone (asked without failing the
 * transaction, as AT TIME ZONE with an unknown name would). */
const struct gf_stmt gf_q_timezone_known = {
    "timezone_known", "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", 1};

/* $1 time zone -> "YYYY MM DD HH24 MI" of now there (an unknown zone is an error). */
const struct gf_stmt gf_q_local_time = {
    "local_time", "SELECT to_char(now() AT TIME ZONE $1, 'YYYY MM DD HH24 MI')", 1};
