-- A destination's rate limit is kept where the platform counts: when each request leaves.
-- A claim reserves its batch's share of the window (a row with `reserved`), and the batch's
-- first request turns that row into what it sent, at the moment it goes (jobs/delivery.py):
-- the row must be found again by its id, and told from what was sent. Rows already here were
-- logged by claims of an older version; they count as sent until they age out.
ALTER TABLE tenaz_rate_log
    ADD COLUMN id bigserial PRIMARY KEY,
    ADD COLUMN reserved boolean NOT NULL DEFAULT false;
