/* SPDX-License-Identifier: Apache-2.0
 *
 * q_commands.c - statements for commands, command batches and log streams (q_commands.h).
 * A command's end (result, expiry, timeout) writes its project event and its audit event in
 * the statement that ends it, so neither can be lost between two statements; results are
 * taken only from the node the command was for, and only while the command is open.
 */
#include "q_commands.h"

#include "q_sql.h"

#define CMD_JSON(c)                                                                             \
    "json_build_object('id', " c ".id, 'project_id', " c ".project_id, 'node_id', " c           \
    ".node_id, 'batch_id', " c ".batch_id, 'name', " c ".name, 'args', " c ".args,"             \
    " 'timeout_ms', " c ".timeout_ms, 'state', " c ".state, 'exit_code', " c ".exit_code,"      \
    " 'signal', " c ".signal, 'output', " c ".output, 'output_truncated', " c                   \
    ".output_truncated, 'result', " c ".result, 'error', " c ".error, 'duration_ms', " c        \
    ".duration_ms, 'requested_by', " c ".requested_by, 'requested_label', " c                   \
    ".requested_label, 'created_at', gf_ts(" c ".created_at), 'deadline_at', gf_ts(" c         \
    ".deadline_at), 'sent_at', gf_ts(" c ".sent_at), 'started_at', gf_ts(" c ".started_at),"    \
    " 'finished_at', gf_ts(" c ".finished_at))::text"

#define STREAM_JSON(s)                                                                          \
    "json_build_object('id', " s ".id, 'project_id', " s ".project_id, 'node_id', " s           \
    ".node_id, 'source', " s ".source, 'state', " s ".state, 'reason', " s ".reason,"           \
    " 'command_id', " s ".command_id, 'last_seq', " s ".last_seq, 'lines', " s ".lines,"        \
    " 'dropped', " s ".dropped, 'requested_by', " s ".requested_by, 'created_at', gf_ts(" s     \
    ".created_at), 'ends_at', gf_ts(" s ".ends_at), 'ended_at', gf_ts(" s ".ended_at))::text"

/* The project event of every command in CTE u (command.running when the node starts it,
 * command.<final state> when it ends) and the audit event of those that reached a final state
 * (it names who asked, where it ran and the outcome). */
#define CMD_ENDED(actor_type, actor_id)                                                         \
    " ev AS (INSERT INTO project_events (project_id, kind, data) SELECT u.project_id,"          \
    " 'command.' || u.state, jsonb_build_object('command_id', u.id, 'node_id', u.node_id,"      \
    " 'batch_id', u.batch_id, 'name', u.name, 'state', u.state, 'exit_code', u.exit_code,"      \
    " 'error', u.error) FROM u),"                                                               \
    " au AS (INSERT INTO audit_events (tenant_id, actor_type, actor_id, actor_label, action,"    \
    " object_type, object_id, outcome, detail) SELECT p.tenant_id, " actor_type ", " actor_id   \
    ", 'node ' || u.node_id, 'command.finished', 'command', u.id::text, CASE WHEN u.state ="    \
    " 'succeeded' THEN 'success' ELSE 'failure' END, jsonb_build_object('requested_by',"        \
    " u.requested_by, 'requested_label', u.requested_label, 'node_id', u.node_id, 'name',"      \
    " u.name, 'state', u.state, 'exit_code', u.exit_code, 'duration_ms', u.duration_ms,"        \
    " 'error', u.error, 'batch_id', u.batch_id) FROM u JOIN projects p ON p.id = u.project_id"  \
    " WHERE u.state <> 'running')"

const struct gf_stmt gf_q_command_node = {
    "command_node",
    "SELECT status, broker_cluster_id FROM nodes WHERE id = $1", 1};

const struct gf_stmt gf_q_command_insert = {
    "command_insert",
    "INSERT INTO commands AS c (project_id, node_id, name, args, timeout_ms, deadline_at,"
    " requested_by, requested_label) SELECT n.project_id, n.id, $2, $3::jsonb, $4::int,"
    " now() + $4::int * interval '1 millisecond', $5, $6 FROM nodes n WHERE n.id = $1"
    " RETURNING " CMD_JSON("c") ", c.id",
    6};

const struct gf_stmt gf_q_command_get = {
    "command_get", "SELECT " CMD_JSON("c") " FROM commands c WHERE c.id = $1", 1};

const struct gf_stmt gf_q_command_list = {
    "command_list",
    "SELECT " CMD_JSON("c") ", " GF_SQL_CURSOR("c") " FROM commands c WHERE c.node_id = $1"
    " AND ($2::text IS NULL OR c.state = $2) AND " GF_SQL_AFTER("c", "$3", "$4")
    " ORDER BY c.created_at, c.id LIMIT $5",
    5};

/* A batch command waits its turn: its deadline allows for the waves the concurrency cap
 * makes, and becomes "timeout from now" when it is sent. */
const struct gf_stmt gf_q_batch_insert = {
    "batch_insert",
    "WITH n AS (SELECT id FROM nodes WHERE project_id = $1 AND status = 'accepted'"
    " AND " GF_SQL_SELECTOR("labels", "$3::jsonb") "),"
    " b AS (INSERT INTO command_batches (project_id, selector, name, args, timeout_ms,"
    " concurrency, total, requested_by, requested_label) SELECT $1, $2, $4, $5::jsonb, $6::int,"
    " $7::int, count(*), $8, $9 FROM n RETURNING *),"
    " c AS (INSERT INTO commands (project_id, node_id, batch_id, name, args, timeout_ms,"
    " deadline_at, requested_by, requested_label) SELECT b.project_id, n.id, b.id, b.name,"
    " b.args, b.timeout_ms, now() + ((b.timeout_ms::bigint + 5000) * (1 + b.total /"
    " b.concurrency) + 60000) * interval '1 millisecond', b.requested_by, b.requested_label"
    " FROM b CROSS JOIN n RETURNING 1)"
    " SELECT b.id, b.total, (SELECT count(*) FROM c) FROM b",
    9};

const struct gf_stmt gf_q_batch_get = {
    "batch_get",
    "SELECT json_build_object('id', b.id, 'project_id', b.project_id, 'selector', b.selector,"
    " 'name', b.name, 'args', b.args, 'timeout_ms', b.timeout_ms, 'concurrency', b.concurrency,"
    " 'total', b.total, 'requested_by', b.requested_by, 'requested_label', b.requested_label,"
    " 'created_at', gf_ts(b.created_at), 'counts', (SELECT coalesce(json_object_agg(s.state,"
    " s.k), '{}'::json) FROM (SELECT state, count(*) AS k FROM commands WHERE batch_id = b.id"
    " GROUP BY state) s), 'done', (SELECT count(*) FROM commands WHERE batch_id = b.id AND"
    " state NOT IN ('queued', 'sent', 'running')))::text FROM command_batches b WHERE b.id = $1",
    1};

const struct gf_stmt gf_q_batch_commands = {
    "batch_commands",
    "SELECT " CMD_JSON("c") ", " GF_SQL_CURSOR("c") " FROM commands c WHERE c.batch_id = $1"
    " AND ($2::text IS NULL OR c.state = $2) AND " GF_SQL_AFTER("c", "$3", "$4")
    " ORDER BY c.created_at, c.id LIMIT $5",
    5};

/* One publisher at a time, whatever the cluster (a batch may span clusters), so two never
 * both see room under a batch's concurrency cap. */
const struct gf_stmt gf_q_command_lock = {
    "command_lock", "SELECT pg_try_advisory_xact_lock(7011002)", 0};

const struct gf_stmt gf_q_command_due = {
    "command_due",
    "WITH inflight AS (SELECT batch_id, count(*) AS k FROM commands WHERE state IN ('sent',"
    " 'running') AND batch_id IS NOT NULL GROUP BY batch_id),"
    " cand AS (SELECT c.id, row_number() OVER (PARTITION BY c.batch_id ORDER BY c.created_at,"
    " c.id) AS rn FROM commands c JOIN nodes n ON n.id = c.node_id WHERE c.state = 'queued'"
    " AND c.next_publish_at <= now() AND c.deadline_at > now() AND n.broker_cluster_id = $1"
    " AND n.status = 'accepted')"
    " SELECT c.id, c.node_id, json_build_object('id', c.id, 'name', c.name, 'args', c.args,"
    " 'timeout_ms', c.timeout_ms)::text, CASE WHEN c.batch_id IS NULL THEN greatest(1,"
    " ceil(extract(epoch FROM c.deadline_at - now())))::int ELSE greatest(1, ceil(c.timeout_ms"
    " / 1000.0))::int END FROM commands c JOIN cand ON cand.id = c.id"
    " LEFT JOIN command_batches b ON b.id = c.batch_id"
    " LEFT JOIN inflight i ON i.batch_id = c.batch_id"
    " WHERE c.batch_id IS NULL OR cand.rn <= b.concurrency - coalesce(i.k, 0)"
    " ORDER BY c.created_at, c.id LIMIT $2 FOR UPDATE OF c SKIP LOCKED",
    2};

const struct gf_stmt gf_q_command_sent = {
    "command_sent",
    "UPDATE commands c SET state = 'sent', sent_at = now(), publish_attempts ="
    " c.publish_attempts + 1, deadline_at = CASE WHEN c.batch_id IS NULL THEN c.deadline_at"
    " ELSE now() + c.timeout_ms * interval '1 millisecond' END"
    " FROM json_array_elements_text($1::json) x(id) WHERE c.id = x.id::uuid"
    " AND c.state = 'queued'",
    1};

const struct gf_stmt gf_q_command_unsent = {
    "command_unsent",
    "UPDATE commands c SET next_publish_at = now() + interval '2 seconds', publish_attempts ="
    " c.publish_attempts + 1 FROM json_array_elements_text($1::json) x(id)"
    " WHERE c.id = x.id::uuid AND c.state = 'queued'",
    1};

/* Running past the deadline: timed_out (the agent kills it there and should have said so);
 * never started: expired (an offline node; the broker dropped the request at its expiry).
 * A log stream whose start command ended so is failed; streams past their end, ended. */
const struct gf_stmt gf_q_command_sweep = {
    "command_sweep",
    "WITH u AS (UPDATE commands c SET state = CASE WHEN c.state = 'running' THEN 'timed_out'"
    " ELSE 'expired' END, finished_at = now(), error = CASE WHEN c.state = 'running' THEN"
    " 'no result before the deadline' ELSE 'not delivered before the deadline' END"
    " WHERE c.state IN ('queued', 'sent', 'running') AND c.deadline_at + $1::int * interval"
    " '1 millisecond' < now() RETURNING c.*)," CMD_ENDED("'system'", "NULL::uuid") ","
    " ls AS (UPDATE log_streams s SET state = 'failed', reason = u.error, ended_at = now()"
    " FROM u WHERE s.command_id = u.id AND s.state = 'requested'),"
    " le AS (UPDATE log_streams s SET state = 'ended', reason = 'max_duration', ended_at ="
    " now() WHERE s.state IN ('requested', 'streaming') AND s.ends_at + interval '30 seconds'"
    " < now() AND NOT EXISTS (SELECT 1 FROM u WHERE u.id = s.command_id))"
    " SELECT count(*) FROM u",
    1};

const struct gf_stmt gf_q_command_results = {
    "command_results",
    "WITH r AS (SELECT DISTINCT ON (x.id) x.* FROM json_to_recordset($1::json) AS x(n uuid,"
    " id uuid, status text, exit_code int, signal int, output text, trunc bool, error text,"
    " dur bigint, result jsonb, o int) ORDER BY x.id, x.o DESC),"
    " u AS (UPDATE commands c SET state = r.status, started_at = coalesce(c.started_at, now()),"
    " finished_at = CASE WHEN r.status = 'running' THEN NULL ELSE now() END,"
    " exit_code = r.exit_code, signal = r.signal, output = r.output, output_truncated ="
    " coalesce(r.trunc, false), error = r.error, duration_ms = r.dur, result = r.result"
    " FROM r WHERE c.id = r.id AND c.node_id = r.n AND c.state IN ('queued', 'sent', 'running')"
    " AND NOT (r.status = 'running' AND c.state = 'running') RETURNING c.*)," CMD_ENDED(
        "'node'", "u.node_id") ","
                               " ls AS (UPDATE log_streams s SET state = CASE WHEN u.state IN"
                               " ('running', 'succeeded') THEN 'streaming' ELSE 'failed' END,"
                               " reason = CASE WHEN u.state IN ('running', 'succeeded') THEN"
                               " s.reason ELSE coalesce(u.error, u.state) END, ended_at = CASE"
                               " WHEN u.state IN ('running', 'succeeded') THEN NULL ELSE now()"
                               " END FROM u WHERE s.command_id = u.id AND s.state ="
                               " 'requested')"
                               " SELECT u.id FROM u",
    1};

const struct gf_stmt gf_q_log_chunks = {
    "log_chunks",
    "WITH r AS (SELECT DISTINCT ON (x.s, x.seq) x.* FROM json_to_recordset($1::json) AS x(n uuid,"
    " s uuid, seq bigint, c text, \"end\" bool, reason text, lines int, dropped bigint)"
    " JOIN log_streams ls ON ls.id = x.s AND ls.node_id = x.n ORDER BY x.s, x.seq),"
    " ins AS (INSERT INTO log_chunks (stream_id, seq, chunk) SELECT s, seq, c FROM r"
    " ON CONFLICT DO NOTHING RETURNING stream_id, seq),"
    " agg AS (SELECT r.s, max(r.seq) AS hi, sum(coalesce(r.lines, 0)) AS lines,"
    " sum(coalesce(r.dropped, 0)) AS dropped, bool_or(coalesce(r.\"end\", false)) AS ended,"
    " max(r.reason) AS reason FROM r JOIN ins ON ins.stream_id = r.s AND ins.seq = r.seq"
    " GROUP BY r.s),"
    " upd AS (UPDATE log_streams ls SET last_seq = greatest(ls.last_seq, agg.hi), lines ="
    " ls.lines + agg.lines, dropped = ls.dropped + agg.dropped, state = CASE WHEN agg.ended"
    " THEN 'ended' WHEN ls.state = 'requested' THEN 'streaming' ELSE ls.state END, reason ="
    " CASE WHEN agg.ended AND ls.state <> 'ended' THEN agg.reason ELSE ls.reason END,"
    " ended_at = CASE WHEN agg.ended THEN coalesce(ls.ended_at, now()) ELSE ls.ended_at END"
    " FROM agg WHERE ls.id = agg.s RETURNING ls.id, agg.hi)"
    " SELECT id, hi, pg_notify('gf_log', id::text || ':' || hi) FROM upd",
    1};

const struct gf_stmt gf_q_log_stream_insert = {
    "log_stream_insert",
    "WITH ids AS (SELECT gen_random_uuid() AS sid, gen_random_uuid() AS cid),"
    " c AS (INSERT INTO commands (id, project_id, node_id, name, args, timeout_ms, deadline_at,"
    " requested_by, requested_label) SELECT ids.cid, n.project_id, n.id, 'logs.stream.start',"
    " $6::jsonb || jsonb_build_object('stream_id', ids.sid), 30000, now() + interval"
    " '30 seconds', $4, $5 FROM nodes n, ids WHERE n.id = $1 RETURNING id),"
    " s AS (INSERT INTO log_streams AS s (id, project_id, node_id, source, ends_at,"
    " requested_by, command_id) SELECT ids.sid, n.project_id, n.id, $2::jsonb, now() +"
    " $3::bigint * interval '1 millisecond', $4, ids.cid FROM nodes n, ids WHERE n.id = $1"
    " RETURNING *)"
    " SELECT " STREAM_JSON("s") ", s.id, s.command_id FROM s",
    6};

const struct gf_stmt gf_q_log_stream_get = {
    "log_stream_get", "SELECT " STREAM_JSON("s") " FROM log_streams s WHERE s.id = $1", 1};

const struct gf_stmt gf_q_log_stream_stop = {
    "log_stream_stop",
    "WITH s AS (UPDATE log_streams SET state = 'ended', reason = 'stopped', ended_at = now()"
    " WHERE id = $1 AND state IN ('requested', 'streaming') RETURNING *)"
    " INSERT INTO commands (project_id, node_id, name, args, timeout_ms, deadline_at,"
    " requested_by, requested_label) SELECT project_id, node_id, 'logs.stream.stop',"
    " jsonb_build_object('stream_id', id), 30000, now() + interval '30 seconds', $3, $2"
    " FROM s RETURNING id",
    3};

const struct gf_stmt gf_q_log_stream_state = {
    "log_stream_state", "SELECT state, coalesce(reason, ''), last_seq FROM log_streams WHERE id = $1",
    1};

const struct gf_stmt gf_q_log_chunks_after = {
    "log_chunks_after",
    "SELECT seq, chunk FROM log_chunks WHERE stream_id = $1 AND seq > $2::bigint ORDER BY seq"
    " LIMIT $3",
    3};

const struct gf_stmt gf_q_log_streams_viewed = {
    "log_streams_viewed", "UPDATE log_streams SET viewed_at = now() WHERE id = ANY($1::uuid[])",
    1};

const struct gf_stmt gf_q_log_streams_idle = {
    "log_streams_idle",
    "WITH s AS (UPDATE log_streams SET state = 'ended', reason = 'no viewer', ended_at = now()"
    " WHERE state IN ('requested', 'streaming') AND viewed_at < now() - $1::int * interval"
    " '1 millisecond' RETURNING *),"
    " c AS (INSERT INTO commands (project_id, node_id, name, args, timeout_ms, deadline_at,"
    " requested_label) SELECT project_id, node_id, 'logs.stream.stop', jsonb_build_object("
    "'stream_id', id), 30000, now() + interval '30 seconds', 'system: no viewer' FROM s)"
    " SELECT count(*) FROM s",
    1};

const struct gf_stmt gf_q_log_chunks_prune = {
    "log_chunks_prune",
    "WITH d AS (DELETE FROM log_chunks WHERE at < now() - $1::int * interval '1 minute'"
    " RETURNING 1) SELECT count(*) FROM d",
    1};
