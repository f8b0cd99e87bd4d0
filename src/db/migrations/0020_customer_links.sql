-- Up Migration

-- Links sent to a customer's verified contact point that let the holder do one thing, once, until
-- they expire: fetch a GDPR export (`export-download`), cancel a verified erasure during its grace
-- period (`erasure-cancel`), stop a contact change during its cooling-off period (`change-revert`).
-- Only the SHA-256 of the random token is kept; the token itself goes only to the transport.
CREATE TABLE customer_links (
  token_sha256 text PRIMARY KEY CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  purpose text NOT NULL CHECK (purpose IN ('export-download', 'erasure-cancel', 'change-revert')),
  -- the GDPR request or the change the link acts on
  request_id text NOT NULL,
  -- absent for a person known only as a lead
  customer_id uuid REFERENCES customers (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  idempotency_key text NOT NULL UNIQUE
);
CREATE INDEX customer_links_request_idx ON customer_links (request_id);
CREATE INDEX customer_links_customer_idx ON customer_links (customer_id);

-- A GDPR request within the cooling-off period of a contact change is confirmed from the contact
-- points on record before that change too.
ALTER TABLE verification_codes DROP CONSTRAINT verification_codes_target_check;
ALTER TABLE verification_codes ADD CONSTRAINT verification_codes_target_check
  CHECK (target IN ('new-email', 'new-phone', 'existing-contact', 'prior-email', 'prior-phone'));

-- Down Migration
DELETE FROM verification_codes WHERE target IN ('prior-email', 'prior-phone');
ALTER TABLE verification_codes DROP CONSTRAINT verification_codes_target_check;
ALTER TABLE verification_codes ADD CONSTRAINT verification_codes_target_check CHECK (target IN ('new-email', 'new-phone', 'existing-contact'));
DROP TABLE customer_links;
