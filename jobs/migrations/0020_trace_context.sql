-- The trace context (W3C traceparent) of the submission that stored an event, when Tenaz
-- exports traces: the worker's attempt spans link to it (jobs/otel.py). Written in the
-- event's own insert, never updated; '' when traces are off. Not NULL on purpose: a row
-- with a NULL carries a null bitmap, which pads its header by 8 bytes, while '' takes one
-- byte. A constant default adds the column without rewriting the table.
ALTER TABLE tenaz_events ADD COLUMN trace_context text NOT NULL DEFAULT '';
