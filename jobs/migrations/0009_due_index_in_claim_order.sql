-- Claims take due deliveries in (next_attempt_at, id) order. With the id in the index
-- too, a claim reads its batch straight off the index; without it, deliveries due at
-- the same moment (a large batch, a bulk import) were all read and sorted by id for
-- each claim of a thousand.
DROP INDEX tenaz_deliveries_due;
CREATE INDEX tenaz_deliveries_due ON tenaz_deliveries (destination_id, next_attempt_at, id)
    WHERE status IN ('PENDING', 'WAITING_RETRY');
