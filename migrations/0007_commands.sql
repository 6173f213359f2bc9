-- SPDX-License-Identifier: Apache-2.0
--
-- 0007_commands.sql - remote commands and live log streams (issue 6), replacing the
-- placeholder tables of 0001.
--
-- A command is one row per node. The fleet thread publishes queued rows on the node's
-- `cmd/req` (MQTT 5: response topic, correlation data, message expiry up to deadline_at)
-- and marks them sent on the broker's PUBACK; the ingest writes the agent's `cmd/res`
-- (running, then the final result). A batch runs one command on every node a selector
-- matched, at most `concurrency` of them sent or running at once. Results that arrive after
-- the sweep ended a command (expired, timed_out) are ignored: final states are final.
--
-- A log stream is started and stopped through commands of its own (logs.stream.start,
-- logs.stream.stop); its chunks are kept in log_chunks for a while so viewers on any
-- replica, and a viewer that reconnects with Last-Event-ID, read them from here.

DROP TABLE commands;
DROP TABLE log_streams;

CREATE TABLE command_batches (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    selector     text NOT NULL,
    name         text NOT NULL,
    args         jsonb NOT NULL DEFAULT '{}',
    timeout_ms   integer NOT NULL,
    concurrency  integer NOT NULL CHECK (concurrency BETWEEN 1 AND 10000),
    total        integer NOT NULL DEFAULT 0,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    requested_label text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_batches_page ON command_batches (project_id, created_at, id);

CREATE TABLE commands (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    node_id      uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    batch_id     uuid REFERENCES command_batches (id) ON DELETE CASCADE,
    name         text NOT NULL,
    args         jsonb NOT NULL DEFAULT '{}',
    timeout_ms   integer NOT NULL CHECK (timeout_ms > 0),
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN
                 ('queued', 'sent', 'running', 'succeeded', 'failed', 'timed_out', 'expired',
                  'rejected')),
    exit_code    integer,
    signal       integer,
    output       text,
    output_truncated boolean NOT NULL DEFAULT false,
    result       jsonb,
    error        text,
    duration_ms  bigint,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    requested_label text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    deadline_at  timestamptz NOT NULL,
    sent_at      timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    next_publish_at timestamptz NOT NULL DEFAULT now(),
    publish_attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX commands_node ON commands (node_id, created_at, id);
CREATE INDEX commands_batch ON commands (batch_id, created_at, id) WHERE batch_id IS NOT NULL;
CREATE INDEX commands_due ON commands (next_publish_at) WHERE state = 'queued';
CREATE INDEX commands_open ON commands (deadline_at) WHERE state IN ('queued', 'sent', 'running');

CREATE TABLE log_streams (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    node_id      uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    source       jsonb NOT NULL,
    state        text NOT NULL DEFAULT 'requested' CHECK (state IN
                 ('requested', 'streaming', 'ended', 'failed')),
    reason       text,
    command_id   uuid REFERENCES commands (id) ON DELETE SET NULL,
    last_seq     bigint NOT NULL DEFAULT 0,
    lines        bigint NOT NULL DEFAULT 0,
    dropped      bigint NOT NULL DEFAULT 0,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    ends_at      timestamptz NOT NULL,
    viewed_at    timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz
);
CREATE INDEX log_streams_node ON log_streams (node_id, created_at);
CREATE INDEX log_streams_open ON log_streams (ends_at) WHERE state IN ('requested', 'streaming');

-- One row per chunk as the agent sent it (seq from 1; a redelivered chunk is ignored).
CREATE TABLE log_chunks (
    stream_id    uuid NOT NULL REFERENCES log_streams (id) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    chunk        text NOT NULL,
    PRIMARY KEY (stream_id, seq)
);
CREATE INDEX log_chunks_at ON log_chunks (at);
