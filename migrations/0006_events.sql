-- SPDX-License-Identifier: Apache-2.0
-- 0006_events: the project event feed that GET /projects/{id}/events streams (Server-Sent
-- Events, docs/internals/events.md).
--
--   * project_events.seq orders events by COMMIT: it is taken at commit time (a deferred
--     constraint trigger) under a transaction-level advisory lock held until the commit is
--     visible, so a reader that sees seq N sees every committed event below N. The bigserial
--     id is taken at INSERT time and two writers can commit out of id order; seq is the
--     event id clients see (SSE `id:`, Last-Event-ID).
--   * The same trigger sends NOTIFY gf_event with the event's JSON (or a stub {id,
--     project_id, kind, big} when it would not fit a notification); notifications are
--     delivered at commit, in commit order, to every replica, so every server's ring holds
--     the same events in the same order.
--   * Triggers record node events: presence changes (node.online / node.offline, from
--     node_presence), enrollment requests and admissions (node.enrollment_requested,
--     node.accepted, node.rejected, node.decommissioned). Rollouts already write theirs
--     (rollout.*, server/store/q_rollouts.c).
--   * Retention: nothing is purged yet; a purge of events older than N days can be a plain
--     DELETE ... WHERE at < now() - interval (a reader that missed them gets a `reset`).

ALTER TABLE project_events ADD COLUMN seq bigint;
CREATE SEQUENCE project_events_seq;
-- Events written before this migration keep their id order (their commit order is lost).
UPDATE project_events SET seq = id;
SELECT setval('project_events_seq', coalesce((SELECT max(seq) FROM project_events), 0) + 1,
              false);
CREATE UNIQUE INDEX project_events_seq_key ON project_events (seq);
DROP INDEX project_events_feed;
CREATE INDEX project_events_feed ON project_events (project_id, seq);

-- One event as the feed shows it (the `data:` line of its SSE message). Keys in this order.
CREATE FUNCTION gf_event_json(e project_events) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', e.seq, 'project_id', e.project_id, 'at', gf_ts(e.at),
                             'kind', e.kind, 'data', e.data)::text
$$;

-- At commit: number the event (commit order) and announce it. The lock serialises only the
-- very end of event-writing transactions; PostgreSQL already serialises the commits of
-- every transaction that notifies (the notification queue lock), so this costs little more.
CREATE FUNCTION gf_event_publish() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    e project_events;
    j text;
BEGIN
    PERFORM pg_advisory_xact_lock(7451648530471650342); -- "gfevents"
    UPDATE project_events SET seq = nextval('project_events_seq') WHERE id = NEW.id
        RETURNING * INTO e;
    IF NOT FOUND THEN
        RETURN NULL; -- deleted again in the same transaction
    END IF;
    j := gf_event_json(e);
    IF octet_length(j) > 7900 THEN
        j := json_build_object('id', e.seq, 'project_id', e.project_id, 'kind', e.kind,
                               'big', true)::text;
    END IF;
    PERFORM pg_notify('gf_event', j);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER project_events_publish AFTER INSERT ON project_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gf_event_publish();

-- node.online / node.offline: every presence transition (gf_node_seen, the overdue sweep).
CREATE FUNCTION gf_presence_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_events (project_id, kind, data)
    SELECT n.project_id, CASE WHEN p.online THEN 'node.online' ELSE 'node.offline' END,
           jsonb_build_object('node_id', p.node_id, 'name', n.name, 'reason', p.reason,
                              'session', p.session, 'boot_id', p.boot_id)
      FROM presence p JOIN nodes n ON n.id = p.node_id ORDER BY p.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER node_presence_event AFTER INSERT ON node_presence
    REFERENCING NEW TABLE AS presence FOR EACH STATEMENT EXECUTE FUNCTION gf_presence_event();

-- A new node: an enrollment request (pending), or a node admitted at once (auto-accepting
-- token, pre-authorisation).
CREATE FUNCTION gf_nodes_added_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_events (project_id, kind, data)
    SELECT a.project_id,
           CASE a.status WHEN 'pending' THEN 'node.enrollment_requested'
                         ELSE 'node.' || a.status END,
           jsonb_build_object('node_id', a.id, 'name', a.name, 'status', a.status,
                              'hostname', a.inventory->>'hostname',
                              'fingerprint', a.fingerprint)
      FROM added a ORDER BY a.created_at, a.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER nodes_added_event AFTER INSERT ON nodes
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION gf_nodes_added_event();

-- An operator's decision (accepted, rejected, decommissioned). Only statements that set
-- status fire it: the ingest's updates of nodes never do.
CREATE FUNCTION gf_node_status_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_events (project_id, kind, data)
    VALUES (NEW.project_id, 'node.' || NEW.status,
            jsonb_build_object('node_id', NEW.id, 'name', NEW.name, 'status', NEW.status,
                               'previous', OLD.status));
    RETURN NULL;
END
$$;

CREATE TRIGGER nodes_status_event AFTER UPDATE OF status ON nodes
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION gf_node_status_event();
