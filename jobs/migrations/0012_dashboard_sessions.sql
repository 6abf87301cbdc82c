-- The dashboard's logins. The browser holds a random session id, never the API
-- key; the table keeps only the id's SHA-256, so reading it opens no session.
-- A session ends at expires_at (by the program's clock), at logout, or when its
-- key is revoked (the revocation deletes the key's sessions in its transaction).
CREATE TABLE tenaz_dashboard_sessions (
    session_hash bytea PRIMARY KEY,
    api_key_id bigint NOT NULL REFERENCES tenaz_api_keys (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX tenaz_dashboard_sessions_key ON tenaz_dashboard_sessions (api_key_id);
CREATE INDEX tenaz_dashboard_sessions_expiry ON tenaz_dashboard_sessions (expires_at);
