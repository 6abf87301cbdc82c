-- Tenaz's own tables. Times are written by the program's clock, never by now(),
-- so tests that move the clock see consistent rows.

CREATE TABLE tenaz_workspaces (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as SHA-256 of the secret; the secret itself is shown once.
CREATE TABLE tenaz_api_keys (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    name text NOT NULL DEFAULT '',
    key_hash bytea NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE tenaz_destinations (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('meta', 'sandbox')),
    enabled boolean NOT NULL DEFAULT true,
    -- Non-secret settings of the platform (pixel id, API version, base URL, ...).
    settings jsonb NOT NULL DEFAULT '{}',
    -- The access token; never returned by the API.
    secret text NOT NULL DEFAULT '',
    retry_interval_seconds double precision,
    needs_action boolean NOT NULL DEFAULT false,
    needs_action_reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX tenaz_destinations_name ON tenaz_destinations (workspace_id, name)
    WHERE deleted_at IS NULL;

-- payload is the event in the platform's wire format, personal data already hashed.
CREATE TABLE tenaz_events (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    event_name text NOT NULL,
    event_id text NOT NULL,
    event_time timestamptz NOT NULL,
    order_id text NOT NULL DEFAULT '',
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL,
    UNIQUE (workspace_id, event_name, event_id)
);
CREATE INDEX tenaz_events_recent ON tenaz_events (workspace_id, id DESC);
CREATE INDEX tenaz_events_event_id ON tenaz_events (workspace_id, event_id);

CREATE TABLE tenaz_deliveries (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL,
    event_id bigint NOT NULL REFERENCES tenaz_events (id) ON DELETE CASCADE,
    destination_id bigint NOT NULL REFERENCES tenaz_destinations (id),
    status text NOT NULL CHECK (
        status IN ('PENDING', 'SENDING', 'WAITING_RETRY', 'RESENDING', 'SUCCEEDED', 'FAILED')
    ),
    failure_reason text NOT NULL DEFAULT '',
    attempt_count integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    -- While SENDING/RESENDING: when the attempt counts as interrupted.
    lease_expires_at timestamptz,
    deadline timestamptz NOT NULL,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (event_id, destination_id)
);
CREATE INDEX tenaz_deliveries_due ON tenaz_deliveries (destination_id, next_attempt_at)
    WHERE status IN ('PENDING', 'WAITING_RETRY');
CREATE INDEX tenaz_deliveries_leased ON tenaz_deliveries (lease_expires_at)
    WHERE status IN ('SENDING', 'RESENDING');
CREATE INDEX tenaz_deliveries_status ON tenaz_deliveries (workspace_id, status, event_id);

CREATE TABLE tenaz_attempts (
    id bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES tenaz_deliveries (id) ON DELETE CASCADE,
    number integer NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('automatic', 'manual')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    outcome text NOT NULL CHECK (
        outcome IN ('in_progress', 'succeeded', 'external_problem', 'rejected', 'interrupted',
                    'expired')
    ),
    http_status integer,
    platform_code integer,
    platform_subcode integer,
    message text NOT NULL DEFAULT '',
    response_excerpt text NOT NULL DEFAULT '',
    UNIQUE (delivery_id, number)
);

-- One row per status change. Writers hold an advisory lock from their insert
-- to their commit (see the store), so seq values become visible in order and a
-- stream can resume from "seq > cursor" with no gap.
CREATE TABLE tenaz_status_changes (
    seq bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL,
    delivery_id bigint NOT NULL,
    event_id bigint NOT NULL,
    destination_id bigint NOT NULL,
    from_status text,
    to_status text NOT NULL,
    attempt_number integer NOT NULL,
    error text NOT NULL DEFAULT '',
    at timestamptz NOT NULL
);
CREATE INDEX tenaz_status_changes_delivery ON tenaz_status_changes (delivery_id, seq);
