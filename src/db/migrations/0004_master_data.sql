-- Up Migration

-- Master data that only verified, approved changes set. The IBAN is stored in electronic format;
-- everywhere outside this row (audit, messages, workflow state) it appears masked.
ALTER TABLE customers
  ADD COLUMN birth_date        date,
  ADD COLUMN bank_account_iban text,
  ADD COLUMN erased_at         timestamptz;

-- One row per change request: who asked for which fields, where it stands, and its timeline.
-- The values themselves live only in the customer row and the audit log.
CREATE TABLE change_requests (
  id           uuid PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers (id),
  fields       text[] NOT NULL CHECK (cardinality(fields) > 0),
  status       text NOT NULL,
  requested_by text NOT NULL,
  approved_by  text,
  reason       text,
  workflow_id  text NOT NULL,
  timeline     jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  closed_at    timestamptz
);
CREATE INDEX change_requests_customer_idx ON change_requests (customer_id, created_at DESC);

-- One-time codes, only as salted scrypt hashes. `subject` is the change or GDPR request they
-- confirm; a resend replaces the code of a target (issue counts up), attempts count per subject.
CREATE TABLE verification_subjects (
  subject      text PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers (id),
  purpose      text NOT NULL CHECK (purpose IN ('change', 'export', 'erasure')),
  attempts     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL CHECK (max_attempts > 0),
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE verification_codes (
  subject     text NOT NULL REFERENCES verification_subjects (subject) ON DELETE CASCADE,
  target      text NOT NULL CHECK (target IN ('new-email', 'new-phone', 'existing-contact')),
  channel     text NOT NULL CHECK (channel IN ('email', 'sms')),
  issue       integer NOT NULL,
  salt        bytea NOT NULL,
  code_hash   bytea NOT NULL,
  expires_at  timestamptz NOT NULL,
  verified_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject, target)
);

-- GDPR exports, fetched once: the content is removed when fetched or when retention ends.
CREATE TABLE gdpr_exports (
  request_id   text PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers (id),
  content      jsonb,
  bytes        integer NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  retrieved_at timestamptz,
  retrieved_by text,
  discarded_at timestamptz
);

-- Down Migration
DROP TABLE gdpr_exports;
DROP TABLE verification_codes;
DROP TABLE verification_subjects;
DROP TABLE change_requests;
ALTER TABLE customers DROP COLUMN erased_at, DROP COLUMN bank_account_iban, DROP COLUMN birth_date;
