-- The status log as one row per move of many deliveries: a submission's births, a worker's
-- claim of a batch and its finish each move hundreds of deliveries the same way at the same
-- moment, and were one row (and two index entries) each. A row's changes are numbered
-- first_seq, first_seq + 1, ..., in the order of its arrays; numbers come in blocks of 1024,
-- one block a row (see jobs/store/status_changes.py for why readers stay in order).
CREATE TABLE tenaz_status_moves (
    first_seq bigint PRIMARY KEY,
    workspace_id bigint NOT NULL,
    destination_id bigint NOT NULL,
    -- NULL for a birth into PENDING.
    from_status text,
    to_status text NOT NULL,
    at timestamptz NOT NULL,
    -- One element per delivery moved, at most 1024, the same number in each.
    delivery_ids bigint[] NOT NULL,
    event_ids bigint[] NOT NULL,
    attempt_numbers integer[] NOT NULL,
    errors text[] NOT NULL,
    CHECK (cardinality(delivery_ids) BETWEEN 1 AND 1024
        AND cardinality(event_ids) = cardinality(delivery_ids)
        AND cardinality(attempt_numbers) = cardinality(delivery_ids)
        AND cardinality(errors) = cardinality(delivery_ids))
);
CREATE INDEX tenaz_status_moves_workspace ON tenaz_status_moves (workspace_id, first_seq);

-- Existing changes keep their numbers, one row each.
INSERT INTO tenaz_status_moves (first_seq, workspace_id, destination_id, from_status,
    to_status, at, delivery_ids, event_ids, attempt_numbers, errors)
SELECT seq, workspace_id, destination_id, from_status, to_status, at, ARRAY[delivery_id],
    ARRAY[event_id], ARRAY[attempt_number], ARRAY[error]
FROM tenaz_status_changes;

-- New numbers start above every number the old sequence issued (committed or not: a
-- stream's cursor may stand on one a rolled-back writer took).
CREATE SEQUENCE tenaz_status_moves_seq INCREMENT BY 1024 MINVALUE 1;
SELECT setval('tenaz_status_moves_seq', greatest(
    (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
     FROM tenaz_status_changes_seq_seq),
    (SELECT coalesce(max(first_seq), 0) FROM tenaz_status_moves)) + 1, false);

DROP TABLE tenaz_status_changes;

CREATE TRIGGER tenaz_status_moves_notify
    AFTER INSERT ON tenaz_status_moves
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_notify_status_changes();

-- One row per change, as the log was before, for reading by hand; first_seq says which row
-- of tenaz_status_moves holds it.
CREATE VIEW tenaz_status_changes AS
SELECT m.first_seq + c.ordinal - 1 AS seq, m.workspace_id, c.delivery_id, c.event_id,
    m.destination_id, m.from_status, m.to_status, c.attempt_number, c.error, m.at, m.first_seq
FROM tenaz_status_moves m
CROSS JOIN LATERAL unnest(m.delivery_ids, m.event_ids, m.attempt_numbers, m.errors)
    WITH ORDINALITY AS c (delivery_id, event_id, attempt_number, error, ordinal);
