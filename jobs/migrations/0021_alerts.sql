-- Alerts: rules over destination health, the channels they notify, each rule's state per
-- destination, and every notification sent (or tried).
--
-- A rule's state changes only in the evaluator's transaction, which also writes the
-- notification and defers the job that sends it: a state change without its notification,
-- or a notification without its change, cannot be committed.

-- Where notifications go. `settings` holds what may be shown (a webhook's URL, an SMTP
-- server's host, port, user, sender and recipients); `secret` the sealed secrets (the webhook's
-- signing secret, the SMTP password), as a destination's are (jobs/secrets.py).
CREATE TABLE tenaz_alert_channels (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('webhook', 'email')),
    settings jsonb NOT NULL DEFAULT '{}',
    secret text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (workspace_id, name)
);

-- What to watch. `destination` empty: every destination of the workspace. `threshold` is a
-- fraction for success_rate and seconds for oldest_waiting; `window_seconds` is the span a
-- success rate is counted over; `recovery_seconds` how long the condition must stay clear
-- before the alert is resolved.
CREATE TABLE tenaz_alert_rules (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    name text NOT NULL,
    condition text NOT NULL CHECK (condition IN ('needs_action', 'success_rate', 'oldest_waiting')),
    destination text NOT NULL DEFAULT '',
    threshold double precision NOT NULL DEFAULT 0,
    window_seconds double precision NOT NULL,
    min_attempts integer NOT NULL DEFAULT 1,
    recovery_seconds double precision NOT NULL,
    channels text[] NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (workspace_id, name)
);

-- One row per rule and destination once the rule has fired for it. `clear_since` is set while
-- a firing alert's condition is clear, and reset when it holds again (the hysteresis).
CREATE TABLE tenaz_alert_states (
    rule_id bigint NOT NULL REFERENCES tenaz_alert_rules (id) ON DELETE CASCADE,
    destination_id bigint NOT NULL REFERENCES tenaz_destinations (id),
    firing boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    clear_since timestamptz,
    detail text NOT NULL DEFAULT '',
    PRIMARY KEY (rule_id, destination_id)
);

-- Every notification, per channel: what was sent, when, and whether it got through. Names are
-- copied, so the history reads the same after a rule or channel is deleted.
CREATE TABLE tenaz_alert_notifications (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES tenaz_workspaces (id),
    channel_id bigint REFERENCES tenaz_alert_channels (id) ON DELETE SET NULL,
    channel_name text NOT NULL,
    rule_name text NOT NULL DEFAULT '',
    destination_name text NOT NULL DEFAULT '',
    kind text NOT NULL CHECK (kind IN ('firing', 'resolved', 'test')),
    text text NOT NULL,
    body jsonb NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    sent_at timestamptz
);
CREATE INDEX tenaz_alert_notifications_recent ON tenaz_alert_notifications (workspace_id, id DESC);
