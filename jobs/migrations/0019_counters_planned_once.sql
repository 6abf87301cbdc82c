-- The stats counters' triggers (migration 0017) with static SQL, planned once per connection.
--
-- 0017's trigger functions built their statements as text and ran them with EXECUTE, which
-- parses and plans them again on every statement that moves deliveries or attempts. A small
-- transaction (one SubmitEvent, a worker's claim of a few deliveries) paid about 0.35 ms of
-- PostgreSQL's time per statement for that, as much as the statement itself; PL/pgSQL keeps
-- the plans of static statements for the connection's life. Each trigger function now picks
-- its static statement by TG_OP, and the upserts, shared by every kind of statement, live in
-- one function that takes the statement's net changes as an array. What is counted, and how,
-- is unchanged.

CREATE TYPE tenaz_delivery_count AS (
    workspace_id bigint,
    created_minute timestamptz,
    destination_id bigint,
    status text,
    n bigint
);

-- Add net changes to both delivery counters, in key order (transactions counting into the
-- same rows take their locks in the same order).
CREATE FUNCTION tenaz_add_delivery_counts(delta tenaz_delivery_count[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO tenaz_delivery_counts AS c
        (workspace_id, created_minute, destination_id, status, n)
    SELECT * FROM unnest(delta) ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, created_minute, destination_id, status)
    DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO tenaz_unfinished_counts AS c (workspace_id, destination_id, status, n)
    SELECT workspace_id, destination_id, status, sum(n) FROM unnest(delta)
    WHERE status IN ('PENDING', 'SENDING', 'WAITING_RETRY', 'RESENDING')
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, destination_id, status) DO UPDATE SET n = c.n + excluded.n;
END
$fn$;

-- A statement's inserted, updated or deleted deliveries: -1 for each row as it was, +1 for
-- each row as it is; rows whose status did not change cancel out.
CREATE OR REPLACE FUNCTION tenaz_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM tenaz_add_delivery_counts(ARRAY(
            SELECT (workspace_id, tenaz_minute(created_at), destination_id, status,
                count(*))::tenaz_delivery_count
            FROM new_rows
            GROUP BY workspace_id, tenaz_minute(created_at), destination_id, status));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM tenaz_add_delivery_counts(ARRAY(
            SELECT (workspace_id, tenaz_minute(created_at), destination_id, status,
                sum(n))::tenaz_delivery_count
            FROM (
                SELECT workspace_id, created_at, destination_id, status, -1 AS n FROM old_rows
                UNION ALL
                SELECT workspace_id, created_at, destination_id, status, 1 FROM new_rows
            ) AS moved
            GROUP BY workspace_id, tenaz_minute(created_at), destination_id, status
            HAVING sum(n) <> 0));
    ELSE
        PERFORM tenaz_add_delivery_counts(ARRAY(
            SELECT (workspace_id, tenaz_minute(created_at), destination_id, status,
                -count(*))::tenaz_delivery_count
            FROM old_rows
            GROUP BY workspace_id, tenaz_minute(created_at), destination_id, status));
    END IF;
    RETURN NULL;
END
$fn$;

-- Count ended attempts into the counters, with the last one of each group.
CREATE FUNCTION tenaz_add_attempt_counts(ended tenaz_attempts[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO tenaz_attempt_counts AS c
        (workspace_id, finished_minute, destination_id, outcome, n, last_at, last_message)
    SELECT d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome,
        count(*), max(a.finished_at),
        (array_agg(a.message ORDER BY a.finished_at DESC, a.delivery_id DESC,
            a.number DESC))[1]
    FROM unnest(ended) AS a JOIN tenaz_deliveries d ON d.id = a.delivery_id
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, finished_minute, destination_id, outcome) DO UPDATE SET
        n = c.n + excluded.n,
        last_at = greatest(c.last_at, excluded.last_at),
        last_message = CASE WHEN excluded.last_at >= c.last_at
            THEN excluded.last_message ELSE c.last_message END;
END
$fn$;

-- A statement's ended attempts. An attempt is written once, when it ends; an update counts
-- only a row an older version left unfinished.
CREATE OR REPLACE FUNCTION tenaz_count_attempts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM tenaz_add_attempt_counts(ARRAY(
            SELECT a::tenaz_attempts FROM new_rows a WHERE a.finished_at IS NOT NULL));
    ELSE
        PERFORM tenaz_add_attempt_counts(ARRAY(
            SELECT a::tenaz_attempts FROM new_rows a JOIN old_rows o USING (delivery_id, number)
            WHERE o.finished_at IS NULL AND a.finished_at IS NOT NULL));
    END IF;
    RETURN NULL;
END
$fn$;
