-- Up Migration

-- Every contact with a lead or customer, whoever made it: interactions agents record (call,
-- e-mail, meeting, note) and messages processes send (campaign steps, offers, reminders).
-- "Why did this customer get this message?" is answered from here and the process's state.
CREATE TABLE contact_events (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id     uuid REFERENCES customers (id),
  lead_id         text,
  channel         text NOT NULL CHECK (channel IN ('call', 'email', 'meeting', 'note', 'sms', 'letter')),
  direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
  kind            text NOT NULL DEFAULT 'interaction',
  summary         text NOT NULL,
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  recorded_by     text NOT NULL,
  process         text,
  workflow_id     text,
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT contact_events_idempotency_key_key UNIQUE (idempotency_key),
  CONSTRAINT contact_events_subject_check CHECK (customer_id IS NOT NULL OR lead_id IS NOT NULL)
);
CREATE INDEX contact_events_customer_idx ON contact_events (customer_id, occurred_at DESC, id) WHERE customer_id IS NOT NULL;
CREATE INDEX contact_events_lead_idx ON contact_events (lead_id, occurred_at DESC, id) WHERE lead_id IS NOT NULL;

-- Who must not be contacted, and why. Every process checks here before it sends anything
-- promotional: an opt-out, a requested erasure, an open complaint. Lifting sets lifted_at.
CREATE TABLE suppressions (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id        uuid NOT NULL REFERENCES customers (id),
  reason             text NOT NULL CHECK (reason IN ('opt-out', 'erasure', 'complaint', 'manual')),
  channel            text CHECK (channel IN ('email', 'sms', 'call', 'letter')),
  created_by         text NOT NULL,
  source_workflow_id text,
  idempotency_key    text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  lifted_at          timestamptz,
  CONSTRAINT suppressions_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX suppressions_active_idx ON suppressions (customer_id) WHERE lifted_at IS NULL;

-- Down Migration
DROP TABLE suppressions;
DROP TABLE contact_events;
