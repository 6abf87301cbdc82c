-- The stats counters (migrations 0017 and 0019) kept in shards, so that concurrent
-- transactions count into different rows.
--
-- Every submission adds to its destination's PENDING row in tenaz_unfinished_counts and to
-- the current minute's rows in tenaz_delivery_counts; every claim moves PENDING to SENDING and
-- every finish SENDING to SUCCEEDED in those same few rows. A row an upsert updated stays
-- locked until its transaction commits, so these transactions queued on each other, one
-- after another, in the counters' triggers (under load, about two backends at any moment
-- waited on `Lock:transactionid` there, more than were running).
--
-- Each counter is now kept in rows of several shards: `shard` is part of the key, readers
-- sum a key's shards (they already summed minutes and destinations), and a transaction counts
-- into the shard of its backend, 1 + pg_backend_pid() % 16. A backend runs one transaction at
-- a time, so a transaction never waits on a counter row held by an earlier statement of its
-- own, and two transactions wait on each other's counter rows only when their backends fall
-- in the same shard (one pair in 16), not always. Sixteen: a Tenaz process holds up to
-- TENAZ_POOL_MAX_SIZE (10) connections, and a few processes share one database; more shards
-- would only add rows to the minute being written, which readers sum until they are folded.
--
-- Shard 0 is not written by those transactions: only the fold (jobs/store/counters.py) writes
-- it, moving the other shards' rows into it every minute, so that a minute that is no longer
-- written is one row per key again, as before, and readers sum about as many rows as they
-- did. As no transaction that moves deliveries or attempts holds a shard-0 row, and the fold
-- skips the shard rows such transactions hold, the fold never waits for them and can never
-- be part of a deadlock with them. The rows already counted become shard 0.
--
-- The trigger functions keep static SQL (migration 0019 says why) and their upserts' key
-- order (transactions counting into the same rows take their locks in the same order): the
-- shard is the same for every row a statement counts.

CREATE FUNCTION tenaz_counter_shard() RETURNS smallint
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    RETURN (1 + pg_backend_pid() % 16)::smallint;

ALTER TABLE tenaz_delivery_counts
    ADD COLUMN shard smallint NOT NULL DEFAULT 0,
    DROP CONSTRAINT tenaz_delivery_counts_pkey,
    ADD PRIMARY KEY (workspace_id, created_minute, destination_id, status, shard);
ALTER TABLE tenaz_unfinished_counts
    ADD COLUMN shard smallint NOT NULL DEFAULT 0,
    DROP CONSTRAINT tenaz_unfinished_counts_pkey,
    ADD PRIMARY KEY (workspace_id, destination_id, status, shard);
ALTER TABLE tenaz_attempt_counts
    ADD COLUMN shard smallint NOT NULL DEFAULT 0,
    DROP CONSTRAINT tenaz_attempt_counts_pkey,
    ADD PRIMARY KEY (workspace_id, finished_minute, destination_id, outcome, shard);

-- What the fold has still to move, found without reading the minutes of the whole retention
-- period: these two tables keep a row per minute, so their shard rows are a small part of
-- them. An entry is made when a shard's row is, once per key and shard until it is folded;
-- the counts in `n` stay unindexed, so an increment is still a HOT update. The unfinished
-- counts have no minute: a few rows per destination, read whole.
CREATE INDEX tenaz_delivery_counts_to_fold ON tenaz_delivery_counts
    (workspace_id, created_minute, destination_id, status, shard) WHERE shard <> 0;
CREATE INDEX tenaz_attempt_counts_to_fold ON tenaz_attempt_counts
    (workspace_id, finished_minute, destination_id, outcome, shard) WHERE shard <> 0;
-- tenaz_attempt_counts_latest stays as it is: a destination's newest minute now has a row per
-- shard that wrote it, and the reader takes the one with the newest last_at among them.

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
    INSERT INTO tenaz_unfinished_counts AS c (workspace_id, destination_id, status, shard, n)
    SELECT workspace_id, destination_id, status, this_backend, sum(n) FROM unnest(delta)
    WHERE status IN ('PENDING', 'SENDING', 'WAITING_RETRY', 'RESENDING')
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, destination_id, status, shard)
    DO UPDATE SET n = c.n + excluded.n;
END
$fn$;

CREATE OR REPLACE FUNCTION tenaz_add_attempt_counts(ended tenaz_attempts[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    this_backend constant smallint := tenaz_counter_shard();
BEGIN
    INSERT INTO tenaz_attempt_counts AS c (workspace_id, finished_minute, destination_id,
        outcome, shard, n, last_at, last_message)
    SELECT d.workspace_id, tenaz_minute(a.finished_at), d.destination_id, a.outcome,
        this_backend, count(*), max(a.finished_at),
        (array_agg(a.message ORDER BY a.finished_at DESC, a.delivery_id DESC,
            a.number DESC))[1]
    FROM unnest(ended) AS a JOIN tenaz_deliveries d ON d.id = a.delivery_id
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, finished_minute, destination_id, outcome, shard) DO UPDATE SET
        n = c.n + excluded.n,
        last_at = greatest(c.last_at, excluded.last_at),
        last_message = CASE WHEN excluded.last_at >= c.last_at
            THEN excluded.last_message ELSE c.last_message END;
END
$fn$;
