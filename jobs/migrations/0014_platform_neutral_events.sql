-- Events are stored in Tenaz's own shape (jobs/canonical.py), not in Meta's wire
-- format: browser and click ids in `identifiers`, hashes per hashing family in
-- `hashed`. Events stored before were Meta's: their user_data splits into the
-- identifiers Meta takes in clear and the Meta family's hashes.
UPDATE tenaz_events
SET payload = (payload - 'user_data') || jsonb_build_object(
    'identifiers', COALESCE(
        (SELECT jsonb_object_agg(key, value) FROM jsonb_each(payload -> 'user_data')
         WHERE key IN ('client_ip_address', 'client_user_agent', 'fbc', 'fbp')),
        '{}'::jsonb),
    'hashed', jsonb_build_object('meta', COALESCE(
        (SELECT jsonb_object_agg(key, value) FROM jsonb_each(payload -> 'user_data')
         WHERE key NOT IN ('client_ip_address', 'client_user_agent', 'fbc', 'fbp')),
        '{}'::jsonb)))
WHERE jsonb_typeof(payload -> 'user_data') = 'object';

-- A destination may take only some events (by event_name), and name them as its
-- platform does (Tenaz name -> platform name).
ALTER TABLE tenaz_destinations
    ADD COLUMN event_filter text[] NOT NULL DEFAULT '{}',
    ADD COLUMN event_names jsonb NOT NULL DEFAULT '{}';
