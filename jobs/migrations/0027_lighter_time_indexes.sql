-- Fewer index entries per delivered event: every event writes one into each of its table's
-- btree indexes, so an index no query needs, or one a small index serves as well, goes.

-- Events arrive in time order, so their pages are in received_at order: a BRIN index (one
-- summary per 128 pages, not an entry per event) finds what retention deletes and what a
-- time filter asks for as well as a btree did. Autosummarize has autovacuum summarise each
-- range once it is full, so that the newest pages are not all read as possible matches.
DROP INDEX tenaz_events_received;
CREATE INDEX tenaz_events_received ON tenaz_events USING brin (received_at)
    WITH (autosummarize = on);

-- Attempts are counted as they end (the stats counters) and deleted with their events, so
-- nothing reads them by when they ended.
DROP INDEX tenaz_attempts_finished;
