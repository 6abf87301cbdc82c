-- Every index entry is written for every event: keep only the indexes a query needs.

-- An event's key leads with event_id, so the same index serves searches by event_id
-- (the dashboard's search box) and the separate event_id index can go.
ALTER TABLE tenaz_events ADD CONSTRAINT tenaz_events_key UNIQUE (workspace_id, event_id, event_name);
ALTER TABLE tenaz_events DROP CONSTRAINT tenaz_events_workspace_id_event_name_event_id_key;
DROP INDEX tenaz_events_event_id;

-- An attempt is (delivery, number); its surrogate id only cost an index and a sequence.
ALTER TABLE tenaz_attempts DROP CONSTRAINT tenaz_attempts_pkey;
ALTER TABLE tenaz_attempts DROP COLUMN id;
ALTER TABLE tenaz_attempts DROP CONSTRAINT tenaz_attempts_delivery_id_number_key;
ALTER TABLE tenaz_attempts ADD PRIMARY KEY (delivery_id, number);
