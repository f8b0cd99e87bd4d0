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

-- Down Migration
DROP TABLE contact_events;
