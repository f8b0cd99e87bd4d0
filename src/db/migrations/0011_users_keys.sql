-- Up Migration
-- API keys are resolved from the database: every key belongs to a user, and the keys configured in
-- API_KEYS become users at API start. An API_KEYS entry may carry the analyst role (the analytics
-- reader), so a user may hold it too; the operational API answers such a user 403.
ALTER TABLE users DROP CONSTRAINT users_roles_check;
ALTER TABLE users ADD CONSTRAINT users_roles_check
  CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['agent', 'backoffice', 'admin', 'analyst']::text[]);
-- listing users of a team (active or not) and reading a user's keys newest first
CREATE INDEX users_team_all_idx ON users (team_id, created_at, id);
CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at DESC, id);
DROP INDEX api_keys_user_idx;
-- a team changes through PATCH with a version check, as a user does
ALTER TABLE teams ADD COLUMN version integer NOT NULL DEFAULT 1;

-- Down Migration
ALTER TABLE teams DROP COLUMN version;
CREATE INDEX api_keys_user_idx ON api_keys (user_id);
DROP INDEX api_keys_user_created_idx;
DROP INDEX users_team_all_idx;
-- users holding the analyst role keep their rows; only new rows are checked against the old list
ALTER TABLE users DROP CONSTRAINT users_roles_check;
ALTER TABLE users ADD CONSTRAINT users_roles_check
  CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['agent', 'backoffice', 'admin']::text[]) NOT VALID;
