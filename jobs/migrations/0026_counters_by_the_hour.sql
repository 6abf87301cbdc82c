-- The stats counters of deliveries and attempts (migrations 0017, 0019 and 0025) kept by the
-- hour as well as by the minute.
--
-- GetStats sums a window's minute rows: a day of a workspace with three destinations is about
-- 13,000 of them for each of its two aggregates, tens of milliseconds of PostgreSQL's time
-- while a drain keeps the cores busy. The same counts by the hour are sixty times fewer rows:
-- a reader takes the window's whole hours from these tables and only the minutes left over
-- at its ends (and those of an hour that an attempt bucket's edge cuts) from the minute
-- tables, so that a day costs a few hundred rows (jobs/store/stats.py).
--
-- The same triggers count into both, in the same statements, so the two never disagree: an
-- hour's row always holds the sum of its minutes' rows. The hour rows are kept in shards like
-- the minute rows (migration 0025 says why), and the fold moves them into shard 0 alike.
-- Attempts by the hour keep only their number: a destination's last attempt, success and
-- failure are read from the minute rows (a few index entries, however long the window).

CREATE FUNCTION tenaz_hour(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin('1 hour', at, timestamptz '2000-01-01 00:00:00+00');

CREATE TABLE tenaz_delivery_counts_hourly (
    workspace_id bigint NOT NULL,
    created_hour timestamptz NOT NULL,
    destination_id bigint NOT NULL,
    status text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (workspace_id, created_hour, destination_id, status, shard)
) WITH (fillfactor = 70);

CREATE TABLE tenaz_attempt_counts_hourly (
    workspace_id bigint NOT NULL,
    finished_hour timestamptz NOT NULL,
    destination_id bigint NOT NULL,
    outcome text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (workspace_id, finished_hour, destination_id, outcome, shard)
) WITH (fillfactor = 70);

-- What the fold has still to move (migration 0025's tenaz_delivery_counts_to_fold says why).
CREATE INDEX tenaz_delivery_counts_hourly_to_fold ON tenaz_delivery_counts_hourly
    (workspace_id, created_hour, destination_id, status, shard) WHERE shard <> 0;
CREATE INDEX tenaz_attempt_counts_hourly_to_fold ON tenaz_attempt_counts_hourly
    (workspace_id, finished_hour, destination_id, outcome, shard) WHERE shard <> 0;

-- What is already counted, summed by the hour into shard 0.
INSERT INTO tenaz_delivery_counts_hourly
    (workspace_id, created_hour, destination_id, status, shard, n)
SELECT workspace_id, tenaz_hour(created_minute), destination_id, status, 0, sum(n)
FROM tenaz_delivery_counts GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
INSERT INTO tenaz_attempt_counts_hourly
    (workspace_id, finished_hour, destination_id, outcome, shard, n)
SELECT workspace_id, tenaz_hour(finished_minute), destination_id, outcome, 0, sum(n)
FROM tenaz_attempt_counts GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;

-- Net changes to the delivery counters: by the minute, by the hour, and the unfinished ones,
-- each in key order (transactions counting into the same rows take their locks in the same
-- order), into the shard of this backend.
CREATE OR REPLACE FUNCTION tenaz_add_delivery_counts(delta tenaz_delivery_count[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    this_backend constant smallint := tenaz_counter_shard();
BEGIN
    INSERT INTO tenaz_delivery_counts AS c
        (workspace_id, created_minute, destination_id, status, shard, n)
    SELECT workspace_id, created_minute, destination_id, status, this_backend, n
    FROM unnest(delta) ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, created_minute, destination_id, status, shard)
    DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO tenaz_delivery_counts_hourly AS c
        (workspace_id, created_hour, destination_id, status, shard, n)
    SELECT workspace_id, tenaz_hour(created_minute), destination_id, status, this_backend,
        sum(n)
    FROM unnest(delta) GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, created_hour, destination_id, status, shard)
    DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO tenaz_unfinished_counts AS c (workspace_id, destination_id, status, shard, n)
    SELECT workspace_id, destination_id, status, this_backend, sum(n) FROM unnest(delta)
    WHERE status IN ('PENDING', 'SENDING', 'WAITING_RETRY', 'RESENDING')
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, destination_id, status, shard)
    DO UPDATE SET n = c.n + excluded.n;
END
$fn$;

-- Ended attempts counted by the minute, with the last one of each group, and by the hour.
-- The groups are made once (one join with the deliveries) and upserted into both.
CREATE TYPE tenaz_attempt_count AS (
    workspace_id bigint,
    finished_minute timestamptz,
    destination_id bigint,
    outcome text,
    n bigint,
    last_at timestamptz,
    last_message text
);

CREATE OR REPLACE FUNCTION tenaz_add_attempt_counts(ended tenaz_attempts[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    this_backend constant smallint := tenaz_counter_shard();
    counted tenaz_attempt_count[];
BEGIN
    counted := ARRAY(
        SELECT (d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome,
            count(*), max(a.finished_at),
            (array_agg(a.message ORDER BY a.finished_at DESC, a.delivery_id DESC,
                a.number DESC))[1])::tenaz_attempt_count
        FROM unnest(ended) AS a JOIN tenaz_deliveries d ON d.id = a.delivery_id
        GROUP BY d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome);
    INSERT INTO tenaz_attempt_counts AS c (workspace_id, finished_minute, destination_id,
        outcome, shard, n, last_at, last_message)
    SELECT workspace_id, finished_minute, destination_id, outcome, this_backend, n, last_at,
        last_message
    FROM unnest(counted) ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, finished_minute, destination_id, outcome, shard) DO UPDATE SET
        n = c.n + excluded.n,
        last_at = greatest(c.last_at, excluded.last_at),
        last_message = CASE WHEN excluded.last_at >= c.last_at
            THEN excluded.last_message ELSE c.last_message END;
    INSERT INTO tenaz_attempt_counts_hourly AS c
        (workspace_id, finished_hour, destination_id, outcome, shard, n)
    SELECT workspace_id, tenaz_hour(finished_minute), destination_id, outcome, this_backend,
        sum(n)
    FROM unnest(counted) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, finished_hour, destination_id, outcome, shard)
    DO UPDATE SET n = c.n + excluded.n;
END
$fn$;
