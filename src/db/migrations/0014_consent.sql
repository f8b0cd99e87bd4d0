-- Up Migration
-- Consent per channel and purpose, as a history that is never overwritten: every grant and every
-- withdrawal is a row of its own with its proof (when, how, the text the person agreed to, where
-- it came from, and for a double opt-in the confirmation it rests on). The current state of a
-- customer's consent is the latest row per channel and purpose. UWG §7 needs prior express consent
-- for e-mail advertising, and GDPR Art. 7(1) needs the company to prove it: so the rows cannot be
-- changed or deleted, not even by the application.
CREATE TABLE consent_events (
  id uuid PRIMARY KEY,
  -- orders rows of the same moment: the latest per channel and purpose is the current state
  seq bigserial NOT NULL UNIQUE,
  customer_id uuid NOT NULL REFERENCES customers (id),
  channel text NOT NULL CHECK (channel IN ('email', 'sms', 'phone')),
  purpose text NOT NULL CHECK (purpose IN ('service', 'marketing')),
  action text NOT NULL CHECK (action IN ('grant', 'withdraw')),
  -- how it was given or withdrawn: double-opt-in, form, call, import, letter, unsubscribe-link
  method text NOT NULL,
  -- the version of the wording the person agreed to (a grant needs one)
  text_version text CHECK (action = 'withdraw' OR text_version IS NOT NULL),
  -- where it came from: a form's address, the agent who took the call, the import file
  source text NOT NULL,
  -- what the grant rests on, e.g. the double opt-in's confirmation (onboarding workflow, code subject, confirmed at)
  confirmation jsonb,
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL,
  workflow_id text,
  idempotency_key text NOT NULL UNIQUE
);
CREATE INDEX consent_events_customer_idx ON consent_events (customer_id, channel, purpose, occurred_at DESC, seq DESC);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'consent_events is append-only: % is not allowed (record a new grant or withdrawal instead)', TG_OP;
END;
$$;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
  FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();

-- The link in every marketing message: a random token of which only the SHA-256 is kept; it can
-- do one thing (withdraw this customer's marketing consent on this channel), once, until it expires.
CREATE TABLE unsubscribe_tokens (
  token_sha256 text PRIMARY KEY CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  customer_id uuid NOT NULL REFERENCES customers (id),
  channel text NOT NULL CHECK (channel IN ('email', 'sms', 'phone')),
  message_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  -- the withdrawal it recorded
  consent_event_id uuid REFERENCES consent_events (id)
);
CREATE INDEX unsubscribe_tokens_customer_idx ON unsubscribe_tokens (customer_id);

-- A marketing message queued before its customer withdrew consent is not delivered: its row says
-- when and why it was withheld (sent_at stays empty).
ALTER TABLE notification_outbox ADD COLUMN withheld_at timestamptz, ADD COLUMN withheld_reason text;

-- Onboarding has confirmed e-mail addresses by double opt-in since 0003, recorded and enforced
-- nowhere: each confirmed opt-in becomes the marketing e-mail consent it was, with its proof.
INSERT INTO consent_events (id, customer_id, channel, purpose, action, method, text_version, source, confirmation, occurred_at, recorded_by, workflow_id, idempotency_key)
SELECT gen_random_uuid(), o.customer_id, 'email', 'marketing', 'grant', 'double-opt-in', 'opt-in-email-v1', 'onboarding',
       jsonb_build_object('onboardingWorkflowId', o.workflow_id, 'codeSubject', 'opt-in:' || o.customer_id, 'confirmedAt', o.opt_in_confirmed_at,
                          'recordedBy', 'migration 0014'),
       o.opt_in_confirmed_at, 'system', o.workflow_id, 'opt-in:' || o.customer_id || ':consent'
FROM customer_onboardings o JOIN customers c ON c.id = o.customer_id
WHERE o.opt_in_confirmed_at IS NOT NULL AND c.status <> 'erased'
ON CONFLICT (idempotency_key) DO NOTHING;

-- Down Migration
ALTER TABLE notification_outbox DROP COLUMN withheld_at, DROP COLUMN withheld_reason;
DROP TABLE unsubscribe_tokens;
DROP TABLE consent_events;
DROP FUNCTION consent_events_append_only();
