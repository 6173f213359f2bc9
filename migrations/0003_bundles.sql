-- SPDX-License-Identifier: Apache-2.0
-- 0003_bundles: signed configuration bundles (docs/bundle-format.md).
--   * signing_keys gain a kind, a name and a 'pending' state: a key joins the project's trust
--     root only when the trust statement that adds it is signed by a key of the previous
--     root; a retired server key's sealed secret is erased;
--   * trust_statements is that chain (seq 1, 2, ...), exact signed bytes plus signature;
--   * bundles may wait 'unsigned' for an offline signature; bundle_files record sizes and
--     which files are templates (rendered per node at assignment);
--   * node_bundles is each node's desired bundle (the signed envelope it fetches, possibly
--     rendered for it), the outbox generation of its retained `desired` message, and what
--     the agent reported on bundle/status; bundle_events keeps every reported step.

ALTER TABLE signing_keys
    ADD COLUMN kind       text NOT NULL DEFAULT 'offline' CHECK (kind IN ('server', 'offline')),
    ADD COLUMN name       text NOT NULL DEFAULT '',
    ADD COLUMN created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    DROP CONSTRAINT signing_keys_state_check,
    ADD CONSTRAINT signing_keys_state_check CHECK (state IN ('pending', 'active', 'retired'));
CREATE INDEX signing_keys_page ON signing_keys (project_id, created_at, id);

CREATE TABLE trust_statements (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    seq        bigint NOT NULL CHECK (seq > 0),
    statement  bytea NOT NULL,             -- exact signed bytes (proto/bundle/sign.h)
    key_id     text,                       -- signer; NULL while waiting for an offline signature
    signature  bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    signed_at  timestamptz,
    PRIMARY KEY (project_id, seq)
);

ALTER TABLE bundles
    ALTER COLUMN signature DROP NOT NULL,
    ALTER COLUMN key_id DROP NOT NULL,
    ADD COLUMN status          text NOT NULL DEFAULT 'published'
                               CHECK (status IN ('unsigned', 'published')),
    ADD COLUMN manifest_sha256 text NOT NULL DEFAULT '',
    ADD COLUMN templated       boolean NOT NULL DEFAULT false,
    ADD COLUMN parameters      jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN description     text NOT NULL DEFAULT '',
    ADD COLUMN target          jsonb,                -- {selector, selector_json, arch}
    ADD COLUMN signed_at       timestamptz;
CREATE INDEX bundles_name ON bundles (project_id, name, version);

ALTER TABLE bundle_files
    ADD COLUMN size     bigint NOT NULL DEFAULT 0,
    ADD COLUMN template boolean NOT NULL DEFAULT false;

CREATE TABLE node_bundles (
    node_id           uuid PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    bundle_id         uuid NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    envelope          text NOT NULL,       -- what GET /agent/bundles/{id}/manifest returns
    manifest_sha256   text NOT NULL,
    version           bigint NOT NULL,
    gen               bigint NOT NULL DEFAULT 1,   -- bumped by every assignment
    published_gen     bigint NOT NULL DEFAULT 0,   -- last gen published as retained `desired`
    publish_error     text,
    next_publish_at   timestamptz NOT NULL DEFAULT now(),
    assigned_at       timestamptz NOT NULL DEFAULT now(),
    assigned_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'downloading', 'verifying', 'applying',
                                       'applied', 'failed', 'rolled_back')),
    reason            text,
    state_at          timestamptz,
    applied_bundle_id uuid REFERENCES bundles (id) ON DELETE SET NULL,
    applied_version   bigint,
    applied_sha256    text,
    applied_at        timestamptz
);
CREATE INDEX node_bundles_outbox ON node_bundles (next_publish_at) WHERE gen > published_gen;
CREATE INDEX node_bundles_bundle ON node_bundles (bundle_id);

-- Rendered template files of a node's desired bundle (their blobs are in blobs).
CREATE TABLE node_bundle_files (
    node_id uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    path    text NOT NULL,
    sha256  text NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (node_id, path)
);
CREATE INDEX node_bundle_files_blob ON node_bundle_files (sha256);

CREATE TABLE bundle_events (
    id        bigserial PRIMARY KEY,
    node_id   uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    bundle_id uuid,
    version   bigint,
    state     text NOT NULL,
    reason    text,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bundle_events_node ON bundle_events (node_id, id);
