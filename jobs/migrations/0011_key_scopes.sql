-- A key's scope says what it may do: 'submit' keys send events and read their
-- workspace (events, stats, the status stream); 'admin' keys may also manage
-- destinations and retry or cancel deliveries. Keys made before scopes existed
-- could do everything, so they become admin; a key made without naming a scope
-- (an older `tenaz keys create` during an upgrade) gets the narrower one.
ALTER TABLE tenaz_api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('submit', 'admin'));
ALTER TABLE tenaz_api_keys ALTER COLUMN scope SET DEFAULT 'submit';
