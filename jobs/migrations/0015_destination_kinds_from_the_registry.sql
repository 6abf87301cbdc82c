-- Which platforms a destination may be of is the registry's to say
-- (jobs/platforms/registry.py), checked when a destination is created: a list here
-- would need a migration for every platform added. IF EXISTS: harmless to run
-- again, whoever drops it first.
ALTER TABLE tenaz_destinations DROP CONSTRAINT IF EXISTS tenaz_destinations_kind_check;
