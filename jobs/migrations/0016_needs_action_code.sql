-- What the operator must do about a destination that needs action, as a code the
-- dashboard and the CLI can say in the operator's language ("credentials",
-- "permission", "configuration", ...); needs_action_reason keeps the platform's
-- own words.
ALTER TABLE tenaz_destinations ADD COLUMN needs_action_code text NOT NULL DEFAULT '';
