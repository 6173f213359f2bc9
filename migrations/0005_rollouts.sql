-- SPDX-License-Identifier: Apache-2.0
-- 0005: bulk rollouts (docs/rollouts.md, docs/internals/rollout.md).
--
-- A rollout moves a set of nodes (its targets, fixed when it starts) to one bundle in
-- waves. The engine (server/rollout/) runs in every replica; replicas coordinate through
-- row locks on rollouts (FOR UPDATE SKIP LOCKED: one replica advances a rollout at a time)
-- and LISTEN/NOTIFY on channel gf_rollout (a bundle status of a target wakes them).

-- 0001 reserved these two tables with a first guess at their shape; nothing used them.
DROP TABLE rollout_targets;
DROP TABLE rollouts;

CREATE TABLE rollouts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    bundle_id     uuid NOT NULL REFERENCES bundles (id) ON DELETE RESTRICT,
    name          text NOT NULL DEFAULT '',
    state         text NOT NULL
                  CHECK (state IN ('draft', 'scheduled', 'running', 'paused', 'succeeded',
                                   'failed', 'cancelled')),
    pause_reason  text CHECK (pause_reason IN ('operator', 'threshold', 'window', 'wave')),
    reason        text,                    -- the last transition's why, in words
    spec          jsonb NOT NULL,          -- the normalised request (waves, abort, rate, ...)
    wave_count    integer NOT NULL,
    current_wave  integer NOT NULL DEFAULT 0,  -- waves 0..current_wave may be notified
    start_at      timestamptz,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    joined_at     timestamptz             -- continuous: last look for newly matching nodes
);
CREATE INDEX rollouts_page ON rollouts (project_id, created_at, id);
CREATE INDEX rollouts_active ON rollouts (state)
    WHERE state IN ('scheduled', 'running', 'paused');

CREATE TABLE rollout_targets (
    rollout_id    uuid NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    node_id       uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    wave          integer NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'notified', 'downloading', 'applying', 'applied',
                                   'failed', 'rolled_back', 'timed_out', 'skipped',
                                   'cancelled')),
    error         text,                   -- the agent's reason, or why skipped / timed out
    attempts      integer NOT NULL DEFAULT 0,  -- notifications so far
    gen           bigint,                 -- node_bundles.gen of the last notification
    holds         boolean NOT NULL DEFAULT true, -- the node belongs to this rollout now
    next_at       timestamptz,            -- pending retry: not before
    notified_at   timestamptz,
    deadline_at   timestamptz,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- the node's desired bundle before the first notification, restored on cancel
    prev_bundle_id uuid,
    prev_envelope  text,
    prev_sha256    text,
    prev_version   bigint,
    PRIMARY KEY (rollout_id, node_id)
);
-- Two rollouts never hold one node: the second is refused (409) when it starts.
CREATE UNIQUE INDEX rollout_targets_holder ON rollout_targets (node_id) WHERE holds;
CREATE INDEX rollout_targets_todo ON rollout_targets (rollout_id, wave, state);

-- The project's event feed (rollout progress now; node and command events later). Read by
-- GET /projects/{id}/events; ids are the SSE event ids.
CREATE TABLE project_events (
    id          bigserial PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX project_events_feed ON project_events (project_id, id);

-- A node's desired and applied bundle live in node_bundles only: copies on nodes made every
-- assignment and status also lock and rewrite the node's row (wide: inventory, latest
-- health), which coupled rollout notifications with the ingest's row locks. The node's
-- JSON reads them from node_bundles.
ALTER TABLE nodes DROP COLUMN desired_bundle_id, DROP COLUMN applied_bundle_id;

-- A node's desired state may be "nothing": a cancelled rollout restores a node that had no
-- desired bundle before it by publishing an empty retained `desired` (clears it).
ALTER TABLE node_bundles ADD COLUMN cleared boolean NOT NULL DEFAULT false;

-- gf_selector_match of 0002 let a node without a label key match "key=value" and
-- "key in (...)": the comparison was NULL and bool_and() skips NULLs. A requirement that
-- cannot be decided is false now (ne and notin still match a missing key, as intended).
CREATE OR REPLACE FUNCTION gf_selector_match(labels jsonb, sel jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(bool_and(coalesce(CASE r->>'op'
        WHEN 'eq' THEN labels->>(r->>'key') = r->'values'->>0
        WHEN 'ne' THEN labels->>(r->>'key') IS DISTINCT FROM r->'values'->>0
        WHEN 'in' THEN labels->>(r->>'key') IN (SELECT jsonb_array_elements_text(r->'values'))
        WHEN 'notin' THEN labels->>(r->>'key') IS NULL OR labels->>(r->>'key') NOT IN
                          (SELECT jsonb_array_elements_text(r->'values'))
        WHEN 'exists' THEN labels ? (r->>'key')
        WHEN 'notexists' THEN NOT labels ? (r->>'key')
        ELSE false END, false)), true)
    FROM jsonb_array_elements(sel) r
$$;
