-- SPDX-License-Identifier: Apache-2.0
-- 0002_nodes: what the agent and the MQTT ingest need on top of the core model.
--   * broker clusters get explicit URLs and the admin user name (the password stays sealed);
--   * nodes get broker-credential generations, latest health, clock offset, heartbeat;
--   * node_presence keeps every online/offline transition;
--   * telemetry_cursors holds the per-(node, boot) high-water mark that de-duplicates
--     health records and that the `ack` message reports;
--   * gf_selector_match() evaluates a compiled label selector (proto/common/selector.c).

ALTER TABLE broker_clusters
    ADD COLUMN agent_url      text NOT NULL DEFAULT '',
    ADD COLUMN server_url     text,
    ADD COLUMN admin_username text NOT NULL DEFAULT '',
    ADD COLUMN created_by     uuid REFERENCES users (id) ON DELETE SET NULL;

ALTER TABLE enrollment_tokens
    ADD COLUMN prefix text NOT NULL DEFAULT '';

ALTER TABLE nodes
    ADD COLUMN cred_gen          integer NOT NULL DEFAULT 1,
    ADD COLUMN broker_cluster_id uuid REFERENCES broker_clusters (id) ON DELETE SET NULL,
    ADD COLUMN provisioned       boolean NOT NULL DEFAULT false,
    ADD COLUMN enrolled_at       timestamptz,
    ADD COLUMN decided_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN decided_at        timestamptz,
    ADD COLUMN latest_health     jsonb,
    ADD COLUMN latest_health_at  timestamptz,
    ADD COLUMN health_dropped    bigint NOT NULL DEFAULT 0,
    ADD COLUMN clock_offset_ms   bigint,
    ADD COLUMN health_interval_s integer,
    ADD COLUMN keepalive_s       integer,
    ADD COLUMN agent_version     text;

CREATE INDEX nodes_project ON nodes (project_id, created_at, id);
CREATE INDEX nodes_online ON nodes (online, last_seen_at) WHERE online;

CREATE TABLE node_presence (
    id       bigserial PRIMARY KEY,
    node_id  uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    online   boolean NOT NULL,
    reason   text NOT NULL,
    session  bigint NOT NULL,
    boot_id  text
);
CREATE INDEX node_presence_node ON node_presence (node_id, at);

CREATE TABLE telemetry_cursors (
    node_id    uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    boot_id    text NOT NULL,
    seq        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, boot_id)
);

-- Label selector: a JSON array of requirements {"key", "op", "values"} with op one of
-- eq, ne, in, notin, exists, notexists (Kubernetes semantics: ne and notin also match
-- objects without the key). All requirements must hold; an empty array matches everything.
CREATE FUNCTION gf_selector_match(labels jsonb, sel jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(bool_and(CASE r->>'op'
        WHEN 'eq' THEN labels->>(r->>'key') = r->'values'->>0
        WHEN 'ne' THEN labels->>(r->>'key') IS DISTINCT FROM r->'values'->>0
        WHEN 'in' THEN labels->>(r->>'key') IN (SELECT jsonb_array_elements_text(r->'values'))
        WHEN 'notin' THEN labels->>(r->>'key') IS NULL OR labels->>(r->>'key') NOT IN
                          (SELECT jsonb_array_elements_text(r->'values'))
        WHEN 'exists' THEN labels ? (r->>'key')
        WHEN 'notexists' THEN NOT labels ? (r->>'key')
        ELSE false END), true)
    FROM jsonb_array_elements(sel) r
$$;

CREATE TABLE broker_accounts (
    cluster_id  uuid NOT NULL REFERENCES broker_clusters (id) ON DELETE CASCADE,
    username    text NOT NULL,
    node_id     uuid,           -- no FK: the account outlives a deleted node until removed
    want        text NOT NULL CHECK (want IN ('present', 'absent')),
    cred_gen    integer NOT NULL DEFAULT 1,
    done        boolean NOT NULL DEFAULT false,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    next_try_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster_id, username)
);
CREATE INDEX broker_accounts_todo ON broker_accounts (next_try_at) WHERE NOT done;

-- A JSON number as float8, NULL for anything else (samples come from stations).
CREATE FUNCTION gf_num(v jsonb) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::text::double precision END
$$;

-- Presence of one node from an MQTT event: online/offline with the connection's session
-- number. Events from a session older than the newest seen are stale and ignored (the late
-- Will rule, docs/mqtt.md). Returns 'unknown' (no accepted node), 'stale', 'same' or
-- 'changed' (a node_presence row was written).
CREATE FUNCTION gf_node_seen(p_node uuid, p_online boolean, p_session bigint, p_boot text,
                             p_reason text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    was_online boolean;
    cur_session bigint;
BEGIN
    SELECT online, session_seq INTO was_online, cur_session
        FROM nodes WHERE id = p_node AND status = 'accepted' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF p_session < cur_session THEN
        RETURN 'stale';
    END IF;
    -- The Will (or a clean shutdown) ends its session for good: anything else of that same
    -- session that arrives later (reordered by a shared subscription) is stale.
    IF p_online AND p_session = cur_session AND NOT was_online
       AND (SELECT offline_reason FROM nodes WHERE id = p_node) IN ('will', 'shutdown') THEN
        RETURN 'stale';
    END IF;
    IF p_online THEN
        UPDATE nodes SET online = true, session_seq = p_session,
                         boot_id = coalesce(p_boot, boot_id), offline_reason = NULL,
                         last_seen_at = now()
            WHERE id = p_node;
    ELSE
        UPDATE nodes SET online = false, session_seq = p_session, offline_reason = p_reason
            WHERE id = p_node;
    END IF;
    IF was_online = p_online THEN
        RETURN 'same';
    END IF;
    INSERT INTO node_presence (node_id, online, reason, session, boot_id)
        VALUES (p_node, p_online, p_reason, p_session, p_boot);
    RETURN 'changed';
END
$$;

-- Daily partitions of health_samples from days_back before today to days_ahead after it;
-- returns how many were created.
CREATE FUNCTION gf_health_partitions(days_back integer, days_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made integer := 0;
    name text;
BEGIN
    FOR d IN SELECT generate_series(current_date - days_back, current_date + days_ahead,
                                    interval '1 day')::date LOOP
        name := 'health_samples_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF health_samples'
                           ' FOR VALUES FROM (%L) TO (%L)', name, d::timestamptz,
                           (d + 1)::timestamptz);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END
$$;

-- Drop daily partitions that end before today minus keep_days; returns how many.
CREATE FUNCTION gf_health_retention(keep_days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'health_samples'::regclass
                  AND c.relname ~ '^health_samples_[0-9]{8}$' LOOP
        IF to_date(substr(part.relname, 16), 'YYYYMMDD') < current_date - keep_days THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END
$$;

-- The default partition of health_samples only catches rows outside the daily partitions
-- that the server creates ahead (see docs/internals/ingest.md); it starts empty.
