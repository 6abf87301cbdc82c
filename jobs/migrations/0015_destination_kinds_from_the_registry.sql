-- Which platforms a destination may be of is the registry's to say
-- (jobs/platforms/registry.py): every create and update checks the kind there, and a
-- stored kind this version does not know is flagged when it is sent to
-- (jobs/connectors.py). The database keeps only that a kind is a platform's name, so
-- that adding a platform needs no migration.
ALTER TABLE tenaz_destinations DROP CONSTRAINT tenaz_destinations_kind_check;
ALTER TABLE tenaz_destinations ADD CONSTRAINT tenaz_destinations_kind_check
    CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$');
