-- The sweeper ends every due delivery whose deadline has passed, whatever its
-- destination's state, every sweep interval. Without this index it read every due
-- delivery's row to look at its deadline: the whole backlog of a disabled
-- destination, or of an outage, each sweep. With it, it reads only those expiring
-- (one more index entry per PENDING or WAITING_RETRY row version).
CREATE INDEX tenaz_deliveries_due_deadline ON tenaz_deliveries (deadline)
    WHERE status IN ('PENDING', 'WAITING_RETRY');
