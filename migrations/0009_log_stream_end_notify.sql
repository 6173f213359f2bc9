-- SPDX-License-Identifier: Apache-2.0
-- 0009: a log stream's end is announced like its chunks (docs/internals/commands.md).
--
-- Viewers (server/events/logview.c) read the database only when NOTIFY gf_log told them
-- something changed. Chunks are announced by the statement that stores them
-- ('<stream>:<seq>'); a stream is ended by several statements (DELETE by an operator, the
-- idle and deadline sweeps, a failed start, the agent's last chunk) and deleted with its
-- node or project: one trigger announces all of them ('<stream>:end').

CREATE FUNCTION gf_log_stream_notify_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gf_log', OLD.id::text || ':end');
    RETURN NULL;
END
$$;

CREATE TRIGGER log_streams_ended AFTER UPDATE OF state ON log_streams FOR EACH ROW
    WHEN (NEW.state IN ('ended', 'failed') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION gf_log_stream_notify_end();

CREATE TRIGGER log_streams_deleted AFTER DELETE ON log_streams FOR EACH ROW
    EXECUTE FUNCTION gf_log_stream_notify_end();
