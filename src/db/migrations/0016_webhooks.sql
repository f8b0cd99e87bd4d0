-- Up Migration
-- Outbound events (webhooks). Other systems (billing, ERP, support desk, a web shop) learn at once
-- what happened here: each event is a row of `webhook_events`, written by the activity that made
-- the effect, in the same transaction, keyed by the effect (`idempotency_key`) so a retried
-- activity writes it once. In that transaction it is fanned out to every active subscription of
-- its type (`webhook_deliveries`) and a NOTIFY wakes the subscription's delivery workflow on commit.

-- A subscriber: where to POST, which event types, the signing secret (Standard Webhooks `whsec_`;
-- stored because signing needs it; shown to the admin once). During a rotation the previous secret
-- signs too until it expires, so receivers can switch without losing a message.
CREATE TABLE webhook_subscriptions (
  id uuid PRIMARY KEY,
  url text NOT NULL CHECK (url ~ '^https?://'),
  description text,
  event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  active boolean NOT NULL DEFAULT true,
  -- why it stopped (an admin, or the receiver answered 410 Gone)
  deactivated_reason text,
  version integer NOT NULL DEFAULT 1,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_created_idx ON webhook_subscriptions (created_at, id);

-- The event outbox. `seq` orders the events; `ordering_key` is whose they are (the customer, or the
-- lead before it has one): a subscriber gets one subject's events in `seq` order. `data` holds ids
-- and the facts the type needs, never names, addresses or bank details.
CREATE TABLE webhook_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  type text NOT NULL,
  version integer NOT NULL,
  ordering_key text NOT NULL,
  customer_id uuid,
  data jsonb NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  occurred_at timestamptz NOT NULL DEFAULT now()
);

-- One event for one subscription: pending until the receiver answers 2xx (delivered), or until it
-- has failed for longer than WEBHOOK_DEAD_LETTER_AFTER (dead-lettered; redeliverable by the API).
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  event_id uuid NOT NULL REFERENCES webhook_events (id),
  event_seq bigint NOT NULL,
  ordering_key text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead-lettered')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- the dead-letter clock: from the fan-out, or from the last redelivery
  pending_since timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  last_latency_ms integer,
  delivered_at timestamptz,
  dead_lettered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (subscription_id, ordering_key, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (subscription_id, created_at, id);

-- Every attempt: when, the HTTP status (null: no answer), how long it took, what went wrong.
CREATE TABLE webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempted_at timestamptz NOT NULL DEFAULT now(),
  status_code integer,
  latency_ms integer NOT NULL,
  error text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- Down Migration
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_subscriptions;
