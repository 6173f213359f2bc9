-- SPDX-License-Identifier: Apache-2.0
-- 0004: a leaner health_samples insert (docs/performance.md, "Health ingest").
--
-- The foreign key to nodes cost one trigger call per inserted sample, a fifth of the
-- insert's time in the database. The ingest only inserts samples of nodes whose rows it
-- holds locked (gf_q_ingest_lock), so the key guarded nothing the ingest does not; what it
-- did on delete is now a statement trigger on nodes, which also runs for the nodes a
-- project or tenant deletion cascades to.
ALTER TABLE health_samples DROP CONSTRAINT health_samples_node_id_fkey;

CREATE FUNCTION gf_nodes_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM health_samples WHERE node_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE TRIGGER nodes_gone AFTER DELETE ON nodes REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION gf_nodes_gone();

-- One index instead of two: the primary key leads with (node_id, at), so it serves the
-- duplicate net of the insert and the range reads of the series alike.
ALTER TABLE health_samples DROP CONSTRAINT health_samples_pkey;
ALTER TABLE health_samples ADD PRIMARY KEY (node_id, at, boot_id, seq);
DROP INDEX health_samples_node_at;
