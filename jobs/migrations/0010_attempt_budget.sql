-- An attempt whose time budget ran out before the platform answered for an event
-- ends with its own outcome: it counts as an attempt (the next one waits the
-- usual interval), and it is not an interruption.
ALTER TABLE tenaz_attempts DROP CONSTRAINT tenaz_attempts_outcome_check;
ALTER TABLE tenaz_attempts ADD CONSTRAINT tenaz_attempts_outcome_check CHECK (
    outcome IN ('in_progress', 'succeeded', 'external_problem', 'rejected', 'interrupted',
                'expired', 'attempt_budget')
);
