-- Webhook sources: a checkout (Hotmart, Kiwify, Eduzz) or any JSON sender that calls
-- Tenaz's ingest server on each sale, at /webhooks/{kind}/{name}.
--
-- `name` is the route in that URL, so it is unique on the server, not only in its workspace:
-- the request names no workspace, and its route must find exactly one source. `secret` is the
-- checkout's token or signing key, sealed as a destination's secrets are (jobs/secrets.py).
-- `options` holds the event names the operator chose over the defaults and, for a generic
-- source, where each field is in its JSON. `destinations` empty: every destination that takes
-- the event.
CREATE TABLE tenaz_webhook_sources (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    name text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('hotmart', 'kiwify', 'eduzz', 'generic')),
    secret text NOT NULL,
    options jsonb NOT NULL DEFAULT '{}',
    destinations text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX tenaz_webhook_sources_workspace ON tenaz_webhook_sources (workspace_id, name);

-- The checkout's event types a source acknowledged without sending anything (a refund, a
-- cancelled subscription, a type Tenaz does not know), counted so the operator sees what
-- arrives and what Tenaz leaves out.
CREATE TABLE tenaz_webhook_source_ignored (
    source_id bigint NOT NULL REFERENCES tenaz_webhook_sources (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    count bigint NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (source_id, event_type)
);
