-- Up Migration

-- Customers: the master data. `version` carries optimistic concurrency for every change.
CREATE TABLE customers (
  id               uuid PRIMARY KEY,
  name             text NOT NULL,
  email            text NOT NULL,
  email_normalized text NOT NULL,
  phone            text,
  address          jsonb,
  locale           text NOT NULL DEFAULT 'en',
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'erased')),
  version          integer NOT NULL DEFAULT 1 CHECK (version > 0),
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customers_email_normalized_key UNIQUE (email_normalized)
);

-- Every message to a customer is recorded here first (in the transaction of the change that
-- causes it) and delivered afterwards by an activity; idempotency_key makes a retried write a no-op.
CREATE TABLE notification_outbox (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id     uuid REFERENCES customers (id),
  channel         text NOT NULL CHECK (channel IN ('email', 'sms')),
  recipient       text NOT NULL,
  template        text NOT NULL,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  CONSTRAINT notification_outbox_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX notification_outbox_customer_idx ON notification_outbox (customer_id, created_at);
CREATE INDEX notification_outbox_unsent_idx ON notification_outbox (created_at) WHERE sent_at IS NULL;

-- Who changed what, from which value to which, in which process, when.
CREATE TABLE audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     uuid REFERENCES customers (id),
  field           text NOT NULL,
  old_value       jsonb,
  new_value       jsonb,
  actor           text NOT NULL,
  approver        text,
  process         text NOT NULL,
  workflow_id     text,
  change_id       text,
  idempotency_key text NOT NULL,
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audit_log_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX audit_log_customer_idx ON audit_log (customer_id, occurred_at, id);

-- Down Migration
DROP TABLE audit_log;
DROP TABLE notification_outbox;
DROP TABLE customers;
