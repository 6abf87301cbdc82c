-- Retention deletes the status log from its oldest change (lowest seq) forward, as far as the
-- changes are older than the retention period: the primary key finds them, so the index on
-- `at` only cost one index entry per change written (three per event delivered).
DROP INDEX tenaz_status_changes_at;
