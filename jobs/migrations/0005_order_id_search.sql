-- Operators search events by the order id they have at hand (dashboard search box).
CREATE INDEX tenaz_events_order_id ON tenaz_events (workspace_id, order_id) WHERE order_id <> '';
