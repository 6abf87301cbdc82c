-- GetStats and the dashboard read counters instead of counting rows.
--
-- Counting a large workspace's deliveries and attempts row by row takes seconds; these
-- tables keep the counts as the rows change, in the same transactions, so that a read sums a
-- few thousand counter rows whatever the workspace's size. Triggers keep them, so that every
-- writer counts (the status writer, retention's deletes) and none can forget to.
-- Counts are kept by the minute: GetStats' windows begin and end on whole minutes.
--
-- The triggers are statement-level with transition tables: one upsert per statement and
-- counter row, not one per delivery. Their rows are upserted in key order, so transactions
-- that count into the same rows take their locks in the same order. `n` is not indexed and
-- the tables leave room in their pages, so an increment is a HOT update.

-- Deliveries by the minute they were created, and their status now.
CREATE TABLE tenaz_delivery_counts (
    workspace_id bigint NOT NULL,
    created_minute timestamptz NOT NULL,
    destination_id bigint NOT NULL,
    status text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (workspace_id, created_minute, destination_id, status)
) WITH (fillfactor = 70);

-- Unfinished deliveries per destination and status, whenever they were created: what waits
-- now. Finished ones are not kept here (their counts only grow, and nothing asks for them).
CREATE TABLE tenaz_unfinished_counts (
    workspace_id bigint NOT NULL,
    destination_id bigint NOT NULL,
    status text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (workspace_id, destination_id, status)
) WITH (fillfactor = 50);

-- Ended attempts by the minute they ended, with the last one of each group (destination
-- health: the last attempt, the last success, the last failure).
CREATE TABLE tenaz_attempt_counts (
    workspace_id bigint NOT NULL,
    finished_minute timestamptz NOT NULL,
    destination_id bigint NOT NULL,
    outcome text NOT NULL,
    n bigint NOT NULL,
    last_at timestamptz NOT NULL,
    last_message text NOT NULL,
    PRIMARY KEY (workspace_id, finished_minute, destination_id, outcome)
) WITH (fillfactor = 70);
-- A destination's newest minutes first (its health: last attempt, success, failure). Written
-- once a minute per destination and outcome, when the minute's row is made.
CREATE INDEX tenaz_attempt_counts_latest
    ON tenaz_attempt_counts (workspace_id, destination_id, finished_minute DESC);

CREATE FUNCTION tenaz_minute(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin('1 minute', at, timestamptz '2000-01-01 00:00:00+00');

-- Count a statement's inserted, updated or deleted deliveries: -1 for each row as it was,
-- +1 for each row as it is; rows whose status did not change cancel out.
CREATE FUNCTION tenaz_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    was constant text := 'SELECT workspace_id, created_at, destination_id, status, -1 AS n'
        ' FROM old_rows';
    is_now constant text := 'SELECT workspace_id, created_at, destination_id, status, 1 AS n'
        ' FROM new_rows';
BEGIN
    EXECUTE format($sql$
        WITH delta AS (
            SELECT workspace_id, tenaz_minute(created_at) AS minute, destination_id, status,
                sum(n) AS n
            FROM (%s) AS rows
            GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0),
        by_minute AS (
            INSERT INTO tenaz_delivery_counts AS c
                (workspace_id, created_minute, destination_id, status, n)
            SELECT * FROM delta ORDER BY 1, 2, 3, 4
            ON CONFLICT (workspace_id, created_minute, destination_id, status)
            DO UPDATE SET n = c.n + excluded.n)
        INSERT INTO tenaz_unfinished_counts AS c (workspace_id, destination_id, status, n)
        SELECT workspace_id, destination_id, status, sum(n) FROM delta
        WHERE status IN ('PENDING', 'SENDING', 'WAITING_RETRY', 'RESENDING')
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (workspace_id, destination_id, status) DO UPDATE SET n = c.n + excluded.n
        $sql$,
        CASE TG_OP
            WHEN 'INSERT' THEN is_now
            WHEN 'DELETE' THEN was
            ELSE was || ' UNION ALL ' || is_now
        END);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER tenaz_count_inserted_deliveries AFTER INSERT ON tenaz_deliveries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_count_deliveries();
CREATE TRIGGER tenaz_count_updated_deliveries AFTER UPDATE ON tenaz_deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_count_deliveries();
CREATE TRIGGER tenaz_count_deleted_deliveries AFTER DELETE ON tenaz_deliveries
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_count_deliveries();

-- Count a statement's ended attempts. An attempt is written once, when it ends; an update
-- counts only a row an older version left unfinished.
CREATE FUNCTION tenaz_count_attempts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($sql$
        INSERT INTO tenaz_attempt_counts AS c
            (workspace_id, finished_minute, destination_id, outcome, n, last_at, last_message)
        SELECT d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome,
            count(*), max(a.finished_at),
            (array_agg(a.message ORDER BY a.finished_at DESC, a.delivery_id DESC,
                a.number DESC))[1]
        FROM (%s) AS a JOIN tenaz_deliveries d ON d.id = a.delivery_id
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (workspace_id, finished_minute, destination_id, outcome) DO UPDATE SET
            n = c.n + excluded.n,
            last_at = greatest(c.last_at, excluded.last_at),
            last_message = CASE WHEN excluded.last_at >= c.last_at
                THEN excluded.last_message ELSE c.last_message END
        $sql$,
        CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT * FROM new_rows WHERE finished_at IS NOT NULL'
            ELSE 'SELECT n.* FROM new_rows n JOIN old_rows o USING (delivery_id, number)'
                ' WHERE o.finished_at IS NULL AND n.finished_at IS NOT NULL'
        END);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER tenaz_count_inserted_attempts AFTER INSERT ON tenaz_attempts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_count_attempts();
CREATE TRIGGER tenaz_count_updated_attempts AFTER UPDATE ON tenaz_attempts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_count_attempts();

-- What is already there.
INSERT INTO tenaz_delivery_counts (workspace_id, created_minute, destination_id, status, n)
SELECT workspace_id, tenaz_minute(created_at), destination_id, status, count(*)
FROM tenaz_deliveries GROUP BY 1, 2, 3, 4;
INSERT INTO tenaz_unfinished_counts (workspace_id, destination_id, status, n)
SELECT workspace_id, destination_id, status, count(*) FROM tenaz_deliveries
WHERE status IN ('PENDING', 'SENDING', 'WAITING_RETRY', 'RESENDING') GROUP BY 1, 2, 3;
INSERT INTO tenaz_attempt_counts
    (workspace_id, finished_minute, destination_id, outcome, n, last_at, last_message)
SELECT d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome, count(*),
    max(a.finished_at),
    (array_agg(a.message ORDER BY a.finished_at DESC, a.delivery_id DESC, a.number DESC))[1]
FROM tenaz_attempts a JOIN tenaz_deliveries d ON d.id = a.delivery_id
WHERE a.finished_at IS NOT NULL GROUP BY 1, 2, 3, 4;
