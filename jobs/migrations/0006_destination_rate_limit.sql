-- A destination may cap how many events per second Tenaz sends it (a platform's
-- quota, or a gentle drain of a backlog after an outage).
ALTER TABLE tenaz_destinations ADD COLUMN rate_limit double precision;

-- What was sent lately, per destination: the sliding window the cap is kept in.
CREATE TABLE tenaz_rate_log (
    destination_id bigint NOT NULL REFERENCES tenaz_destinations (id),
    at timestamptz NOT NULL,
    events integer NOT NULL
);
CREATE INDEX tenaz_rate_log_recent ON tenaz_rate_log (destination_id, at);
