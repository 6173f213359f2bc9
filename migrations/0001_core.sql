-- SPDX-License-Identifier: Apache-2.0
-- 0001_core.sql - the whole gatefleet data model (ARCHITECTURE.md "Data model").
-- Identity and access (users, sessions, tenants, memberships, API tokens), audit,
-- idempotency, and the fleet tables later issues fill in (clusters, enrollment, nodes,
-- health, signing keys, bundles, rollouts, commands, log streams, alerts).
-- Every user-reachable row hangs off a tenant, directly or through its project.
-- Forward-only: later changes are new numbered files.

CREATE FUNCTION gf_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- Order matters: comparisons (role >= 'admin') follow declaration order.
CREATE TYPE tenant_role AS ENUM ('viewer', 'operator', 'admin', 'owner');

-- ---------------------------------------------------------------- identity and access
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_page ON users (created_at, id);

CREATE TABLE sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   text NOT NULL UNIQUE,          -- sha256 of the cookie value
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE tenants (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version    integer NOT NULL DEFAULT 1
);
CREATE INDEX tenants_page ON tenants (created_at, id);

CREATE TABLE memberships (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       tenant_role NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_page ON memberships (tenant_id, created_at, user_id);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix       text NOT NULL,                 -- first characters, to recognise a token
    secret_hash  text NOT NULL UNIQUE,          -- sha256 of the whole token
    role         tenant_role NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at, id);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

-- Failed-login counters (per account and per source address), shared by all replicas.
CREATE TABLE login_failures (
    scope        text NOT NULL CHECK (scope IN ('account', 'address')),
    key          text NOT NULL,
    window_start timestamptz NOT NULL DEFAULT now(),
    failures     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key)
);

-- Stored responses of POSTs carrying an Idempotency-Key, per caller; kept 24 h.
CREATE TABLE idempotency_keys (
    actor         text NOT NULL,                -- 'user:<uuid>' or 'token:<uuid>'
    key           text NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    request_hash  text NOT NULL,
    status        integer,
    content_type  text,
    response      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- Append-only: no FK to tenants, so the trail outlives what it describes.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant_id   uuid,
    actor_type  text NOT NULL CHECK (actor_type IN ('user', 'token', 'system', 'anonymous', 'node')),
    actor_id    uuid,
    actor_label text NOT NULL DEFAULT '',
    action      text NOT NULL,
    object_type text NOT NULL DEFAULT '',
    object_id   text NOT NULL DEFAULT '',
    outcome     text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    source      text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_tenant_at ON audit_events (tenant_id, at DESC, id DESC);
CREATE INDEX audit_actor ON audit_events (actor_id, at DESC);

CREATE FUNCTION gf_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION gf_audit_append_only();

-- ---------------------------------------------------------------- projects and fleet
CREATE TABLE projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, name)
);
CREATE INDEX projects_page ON projects (tenant_id, created_at, id);

CREATE TABLE broker_clusters (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('mosquitto', 'emqx')),
    endpoints       jsonb NOT NULL DEFAULT '[]',  -- [{url, role}]
    admin_secret    bytea,                        -- sealed with the master key
    probe           jsonb NOT NULL DEFAULT '{}',  -- last probe stats
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (project_id, name)
);

CREATE TABLE enrollment_tokens (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name           text NOT NULL DEFAULT '',
    secret_hash    text NOT NULL UNIQUE,
    default_labels jsonb NOT NULL DEFAULT '{}',
    auto_accept    boolean NOT NULL DEFAULT false,
    max_uses       integer,
    uses           integer NOT NULL DEFAULT 0,
    expires_at     timestamptz,
    revoked_at     timestamptz,
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrollment_tokens_project ON enrollment_tokens (project_id, created_at, id);

CREATE TABLE signing_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key_id      text NOT NULL,                   -- short fingerprint of the public key
    public_key  bytea NOT NULL,                  -- Ed25519, 32 bytes
    sealed_secret bytea,                         -- server-held keys only
    state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz,
    UNIQUE (project_id, key_id)
);

CREATE TABLE bundles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    version     bigint NOT NULL CHECK (version > 0),
    manifest    bytea NOT NULL,                  -- exact signed bytes
    signature   bytea NOT NULL,
    key_id      text NOT NULL,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    UNIQUE (project_id, name, version)
);
CREATE INDEX bundles_page ON bundles (project_id, created_at, id);

CREATE TABLE blobs (
    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size       bigint NOT NULL,
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bundle_files (
    bundle_id uuid NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    path      text NOT NULL,
    sha256    text NOT NULL REFERENCES blobs (sha256),
    mode      integer NOT NULL DEFAULT 420,
    PRIMARY KEY (bundle_id, path)
);
CREATE INDEX bundle_files_blob ON bundle_files (sha256);

CREATE TABLE nodes (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name               text NOT NULL DEFAULT '',
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'accepted', 'rejected', 'decommissioned')),
    public_key         bytea NOT NULL,
    fingerprint        text NOT NULL DEFAULT '',
    labels             jsonb NOT NULL DEFAULT '{}',
    inventory          jsonb NOT NULL DEFAULT '{}',
    online             boolean NOT NULL DEFAULT false,
    boot_id            text,
    session_seq        bigint NOT NULL DEFAULT 0,
    last_seen_at       timestamptz,
    offline_reason     text,
    desired_bundle_id  uuid REFERENCES bundles (id) ON DELETE SET NULL,
    applied_bundle_id  uuid REFERENCES bundles (id) ON DELETE SET NULL,
    enrollment_token_id uuid REFERENCES enrollment_tokens (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    version            integer NOT NULL DEFAULT 1,
    UNIQUE (project_id, public_key)
);
CREATE INDEX nodes_page ON nodes (project_id, created_at, id);
CREATE INDEX nodes_labels ON nodes USING gin (labels);
CREATE INDEX nodes_status ON nodes (project_id, status, online);

-- Time-partitioned; later issues add monthly partitions and retention. The default
-- partition keeps inserts working before any partition exists.
CREATE TABLE health_samples (
    node_id  uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    boot_id  text NOT NULL,
    seq      bigint NOT NULL,
    at       timestamptz NOT NULL,
    sample   jsonb NOT NULL,
    PRIMARY KEY (node_id, boot_id, seq, at)
) PARTITION BY RANGE (at);
CREATE TABLE health_samples_default PARTITION OF health_samples DEFAULT;
CREATE INDEX health_samples_node_at ON health_samples (node_id, at);

CREATE TABLE rollouts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    bundle_id   uuid NOT NULL REFERENCES bundles (id) ON DELETE RESTRICT,
    name        text NOT NULL DEFAULT '',
    spec        jsonb NOT NULL,                  -- target, waves, thresholds, limits, windows
    state       text NOT NULL DEFAULT 'draft' CHECK (state IN
                ('draft', 'scheduled', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
    pause_reason text,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX rollouts_page ON rollouts (project_id, created_at, id);
CREATE INDEX rollouts_active ON rollouts (state) WHERE state IN ('scheduled', 'running');

CREATE TABLE rollout_targets (
    rollout_id  uuid NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    node_id     uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    wave        integer NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN
                ('pending', 'notified', 'downloading', 'applying', 'applied', 'failed',
                 'rolled_back', 'timed_out', 'skipped', 'cancelled')),
    attempts    integer NOT NULL DEFAULT 0,
    error       text,
    previous_bundle_id uuid REFERENCES bundles (id) ON DELETE SET NULL,
    notified_at timestamptz,
    deadline_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rollout_id, node_id)
);
CREATE INDEX rollout_targets_state ON rollout_targets (rollout_id, wave, state);
CREATE INDEX rollout_targets_node ON rollout_targets (node_id);

CREATE TABLE commands (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    node_id     uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    batch_id    uuid,
    name        text NOT NULL,
    args        jsonb NOT NULL DEFAULT '{}',
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN
                ('queued', 'sent', 'running', 'succeeded', 'failed', 'timed_out', 'expired',
                 'rejected')),
    exit_code   integer,
    output      text,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deadline_at timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX commands_node ON commands (node_id, created_at);
CREATE INDEX commands_batch ON commands (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE log_streams (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    node_id     uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    source      jsonb NOT NULL,
    state       text NOT NULL DEFAULT 'requested' CHECK (state IN
                ('requested', 'streaming', 'ended', 'failed')),
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz NOT NULL
);
CREATE INDEX log_streams_node ON log_streams (node_id);

CREATE TABLE notification_channels (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('webhook')),
    config      jsonb NOT NULL DEFAULT '{}',
    sealed_secret bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE alert_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    expr        jsonb NOT NULL,
    severity    text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    channel_ids uuid[] NOT NULL DEFAULT '{}',
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE alerts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id     uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    node_id     uuid REFERENCES nodes (id) ON DELETE CASCADE,
    state       text NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    summary     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    acked_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    acked_at    timestamptz,
    resolved_at timestamptz
);
CREATE INDEX alerts_project_state ON alerts (project_id, state, started_at);
