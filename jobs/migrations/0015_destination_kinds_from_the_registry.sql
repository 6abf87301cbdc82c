-- A destination's kind is any platform of the registry (jobs/platforms/registry.py), which
-- validation checks before a row is written; a list here would need a migration for every
-- platform added. IF EXISTS: harmless where another migration already dropped it.
ALTER TABLE tenaz_destinations DROP CONSTRAINT IF EXISTS tenaz_destinations_kind_check;
