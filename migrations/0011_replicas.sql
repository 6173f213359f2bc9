-- SPDX-License-Identifier: Apache-2.0
-- 0011: server replicas and their heartbeats, so that a live replica can take over the
-- broker sessions of one that is gone (server/mqtt/takeover.c).
--
-- Each replica's ingest session is persistent (mqtt_session_expiry), and a persistent
-- session keeps its share of the shared subscriptions while disconnected: agent messages
-- routed to a replica that never comes back (a new state_dir, hence a new replica id) would
-- wait in the broker until the session expires, then be lost. Every replica writes seen_at
-- once a second; one that has been silent for replica_stale_s is claimed by a live replica
-- (taken_by, under FOR UPDATE SKIP LOCKED: one taker), which resumes its sessions, drains
-- them through its own ingest, ends them, and deletes the row. A replica that comes back
-- simply writes its row again.

CREATE TABLE server_replicas (
    id        text PRIMARY KEY,         -- <state_dir>/replica.id
    seen_at   timestamptz NOT NULL DEFAULT now(),
    taken_by  text,                     -- the replica draining its sessions
    taken_at  timestamptz
);
