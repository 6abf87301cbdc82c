-- Retention deletes by age: find old rows without scanning whole tables.
CREATE INDEX tenaz_events_received ON tenaz_events (received_at);
CREATE INDEX tenaz_status_changes_at ON tenaz_status_changes (at);
