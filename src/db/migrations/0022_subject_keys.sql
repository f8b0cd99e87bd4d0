-- Up Migration

-- Crypto-shredding (src/codec/subject-keys.ts): the data key of each person whose data Temporal
-- payloads carry ('customer:<id>', 'lead:<id>'), wrapped with the shared payload key
-- `wrap_key_id`. Erasure sets `wrapped` to NULL: every payload sealed with the key becomes
-- unreadable, in running and closed histories alike. `key_id` is random, so payload metadata
-- names no person.
CREATE TABLE subject_keys (
  subject text PRIMARY KEY,
  key_id text NOT NULL UNIQUE,
  wrap_key_id text,
  wrapped bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  destroyed_by text,
  CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);

-- Down Migration
DROP TABLE subject_keys;
