-- Up Migration
-- The people who work the CRM. Every actor in audit rows, timelines and Temporal is a user id;
-- owners, approvers and assignees are active users; API keys belong to a user (only a hash is
-- kept). Teams group users for round-robin assignment and escalation to the team lead.
CREATE TABLE teams (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  -- who an overdue task escalates to; null until the team has one
  lead_user_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE users (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email text NOT NULL,
  roles text[] NOT NULL CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['agent', 'backoffice', 'admin']::text[]),
  team_id uuid REFERENCES teams (id),
  active boolean NOT NULL DEFAULT true,
  time_zone text NOT NULL DEFAULT 'Europe/Berlin',
  locale text NOT NULL DEFAULT 'de-DE',
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_team_idx ON users (team_id) WHERE active;
ALTER TABLE teams ADD CONSTRAINT teams_lead_user_fk FOREIGN KEY (lead_user_id) REFERENCES users (id);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  -- hex SHA-256 of the key; the key itself is shown once, at issue, and never stored
  sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- the first characters of the key, so a person can tell their keys apart
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- Down Migration
DROP TABLE api_keys;
ALTER TABLE teams DROP CONSTRAINT teams_lead_user_fk;
DROP TABLE users;
DROP TABLE teams;
