/* SPDX-License-Identifier: Apache-2.0
 *
 * q_commands.h - statements for remote commands and log streams (migrations/0007): the REST
 * side (create a command or a batch, read, list), the fleet thread's publisher (due rows
 * per cluster under a per-cluster advisory lock, marks after the PUBACKs), the ingest's
 * set-based `cmd/res` and `logs/{stream}` writes, and the sweep that ends what passed its
 * deadline.
 */
#ifndef GF_SERVER_Q_COMMANDS_H
#define GF_SERVER_Q_COMMANDS_H

#include "db.h"

/* $1 node -> status, broker cluster (text or NULL) */
extern const struct gf_stmt gf_q_command_node;
/* $1 node, $2 name, $3 args, $4 timeout ms, $5 requested_by, $6 label -> json, id */
extern const struct gf_stmt gf_q_command_insert;
/* $1 id -> json */
extern const struct gf_stmt gf_q_command_get;
/* $1 node, $2 state, $3 cursor us, $4 cursor id, $5 fetch -> json, cursor */
extern const struct gf_stmt gf_q_command_list;

/* $1 project, $2 selector text, $3 selector jsonb, $4 name, $5 args, $6 timeout ms,
 * $7 concurrency, $8 requested_by, $9 label -> id, total */
extern const struct gf_stmt gf_q_batch_insert;
/* $1 id -> json (with counts per state) */
extern const struct gf_stmt gf_q_batch_get;
/* $1 batch, $2 state, $3 cursor us, $4 cursor id, $5 fetch -> json, cursor */
extern const struct gf_stmt gf_q_batch_commands;

/* publisher: -> whether this transaction holds the command publishers' lock */
extern const struct gf_stmt gf_q_command_lock;
/* $1 cluster, $2 limit -> id, node, payload, expiry s (rows locked) */
extern const struct gf_stmt gf_q_command_due;
/* $1 json [ids] -> marked sent */
extern const struct gf_stmt gf_q_command_sent;
/* $1 json [ids] -> back in the queue a little later */
extern const struct gf_stmt gf_q_command_unsent;
/* sweep: past their deadline (plus $1 grace ms) -> ended rows; also ends log streams */
extern const struct gf_stmt gf_q_command_sweep;

/* ingest: $1 json [{n, id, status, exit_code, signal, output, trunc, error, dur, result,
 * o}] -> updated ids */
extern const struct gf_stmt gf_q_command_results;
/* ingest: $1 json [{n, s, seq, c, end, reason, lines, dropped}] -> stored chunks */
extern const struct gf_stmt gf_q_log_chunks;

/* $1 node, $2 source jsonb, $3 duration ms, $4 requested_by, $5 label, $6 command args
 * (without stream_id) -> stream json, stream id, command id */
extern const struct gf_stmt gf_q_log_stream_insert;
/* $1 id -> json */
extern const struct gf_stmt gf_q_log_stream_get;
/* $1 id, $2 label, $3 requested_by -> the stop command's id (or no row: ended already) */
extern const struct gf_stmt gf_q_log_stream_stop;
/* $1 id -> state, reason, last seq */
extern const struct gf_stmt gf_q_log_stream_state;
/* $1 id, $2 after seq, $3 limit -> seq, chunk */
extern const struct gf_stmt gf_q_log_chunks_after;
/* $1 uuid[] -> touch viewed_at of streams with a viewer here */
extern const struct gf_stmt gf_q_log_streams_viewed;
/* $1 idle ms -> streams nobody watched that long ended, stop commands queued -> count */
extern const struct gf_stmt gf_q_log_streams_idle;
/* $1 minutes -> log chunks older than that deleted -> count */
extern const struct gf_stmt gf_q_log_chunks_prune;

#endif
