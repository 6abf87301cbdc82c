-- Manual retries, bulk operations, and the wake-up of status streams.

-- The trigger of a delivery's next attempt: 'manual' after an operator's retry.
ALTER TABLE tenaz_deliveries
    ADD COLUMN next_trigger text NOT NULL DEFAULT 'automatic'
    CHECK (next_trigger IN ('automatic', 'manual'));

CREATE TABLE tenaz_operations (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    kind text NOT NULL CHECK (kind IN ('retry', 'cancel')),
    state text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    -- The DeliveryFilter, resolved (destination id, statuses, times).
    filter jsonb NOT NULL DEFAULT '{}',
    total bigint NOT NULL DEFAULT 0,
    processed bigint NOT NULL DEFAULT 0,
    changed bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    -- The last delivery id handled, so a restarted job resumes where it stopped.
    last_delivery_id bigint NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    finished_at timestamptz
);

-- The status stream's memory: changes up to purged_through were deleted by
-- retention, so a cursor before it cannot be served.
CREATE TABLE tenaz_stream_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    purged_through bigint NOT NULL DEFAULT 0
);
INSERT INTO tenaz_stream_state DEFAULT VALUES;

-- NOTIFY is only a wake-up for status streams: they read the rows themselves.
CREATE FUNCTION tenaz_notify_status_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenaz_status_changes', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER tenaz_status_changes_notify
    AFTER INSERT ON tenaz_status_changes
    FOR EACH STATEMENT EXECUTE FUNCTION tenaz_notify_status_changes();

CREATE INDEX tenaz_status_changes_workspace ON tenaz_status_changes (workspace_id, seq);
CREATE INDEX tenaz_attempts_finished ON tenaz_attempts (finished_at) WHERE finished_at IS NOT NULL;
