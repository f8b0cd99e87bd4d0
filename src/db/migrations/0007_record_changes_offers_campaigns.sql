-- Up Migration

-- The record of master-data changes, GDPR requests, offers and campaign enrollments, so that every
-- read of them answers from PostgreSQL after Temporal has forgotten the workflow (retention) or
-- while no worker runs. Each timeline row carries an entry key unique within its subject: the
-- activity that writes it uses ON CONFLICT DO NOTHING, so a retried activity writes it once.

-- Timeline of change requests and GDPR requests (both are requests about a customer's master
-- data and share the code verification that writes "code sent" and "wrong code" entries here).
CREATE TABLE request_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id  text NOT NULL,
  customer_id uuid NOT NULL REFERENCES customers (id),
  kind        text NOT NULL CHECK (kind IN ('change', 'export', 'erasure')),
  status      text NOT NULL,
  at          timestamptz NOT NULL,
  actor       text NOT NULL,
  reason      text,
  workflow_id text,
  entry_key   text NOT NULL,
  CONSTRAINT request_events_entry_key UNIQUE (request_id, entry_key)
);
CREATE INDEX request_events_request_idx ON request_events (request_id, at, id);

-- What the change desk knew of a change besides its status: the masked preview of the new
-- values, the verification (masked contact points, attempts left), the approval and the outcome.
ALTER TABLE change_requests
  ADD COLUMN preview           jsonb,
  ADD COLUMN verification      jsonb,
  ADD COLUMN approval_required  boolean NOT NULL DEFAULT false,
  ADD COLUMN approval_due_at   timestamptz,
  ADD COLUMN escalated         boolean NOT NULL DEFAULT false,
  ADD COLUMN decision          text CHECK (decision IN ('approve', 'reject')),
  ADD COLUMN decided_by        text,
  ADD COLUMN decision_comment  text,
  ADD COLUMN applied_version   integer,
  ADD COLUMN outcome_detail    text;

-- The timeline moves from a jsonb copy on the row to request_events.
INSERT INTO request_events (request_id, customer_id, kind, status, at, actor, reason, workflow_id, entry_key)
SELECT r.id::text, r.customer_id, 'change', t.value->>'status', (t.value->>'at')::timestamptz, t.value->>'actor', t.value->>'reason', r.workflow_id,
       'transition:' || (t.n - 1)
FROM change_requests r, jsonb_array_elements(r.timeline) WITH ORDINALITY AS t(value, n);
ALTER TABLE change_requests DROP COLUMN timeline;

-- Every code check of a subject, numbered (attempts reset on a right code; checks never do):
-- the number keys the "wrong code" entry of the timeline.
ALTER TABLE verification_subjects ADD COLUMN checks integer NOT NULL DEFAULT 0;

-- One row per GDPR request. An erasure's id is per customer (one at a time), so a later erasure
-- of the same customer reuses the row; its timeline keeps every run's entries.
CREATE TABLE gdpr_requests (
  request_id   text PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers (id),
  kind         text NOT NULL CHECK (kind IN ('export', 'erasure')),
  status       text NOT NULL,
  requested_by text NOT NULL,
  workflow_id  text NOT NULL,
  run_id       text,
  verification jsonb,
  due_at       timestamptz,
  export_bytes integer,
  erased_rows  jsonb,
  requested_at timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  closed_at    timestamptz
);
CREATE INDEX gdpr_requests_customer_idx ON gdpr_requests (customer_id, requested_at DESC);

-- Timeline of an offer: checked, deferred (why, until when), presented, and the answer by whom.
CREATE TABLE offer_events (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  offer_id  uuid NOT NULL REFERENCES offers (id),
  status    text NOT NULL,
  at        timestamptz NOT NULL,
  actor     text NOT NULL,
  reason    text,
  entry_key text NOT NULL,
  CONSTRAINT offer_events_entry_key UNIQUE (offer_id, entry_key)
);
CREATE INDEX offer_events_offer_idx ON offer_events (offer_id, at, id);

INSERT INTO offer_events (offer_id, status, at, actor, entry_key)
SELECT id, 'checking', created_at, created_by, 'checking' FROM offers;
INSERT INTO offer_events (offer_id, status, at, actor, reason, entry_key)
SELECT id, 'ineligible', created_at, 'system', reason, 'ineligible' FROM offers WHERE status = 'ineligible';
INSERT INTO offer_events (offer_id, status, at, actor, entry_key)
SELECT id, 'presented', presented_at, 'system', 'presented' FROM offers WHERE presented_at IS NOT NULL;
INSERT INTO offer_events (offer_id, status, at, actor, reason, entry_key)
SELECT id, status, decided_at, COALESCE(decided_by, 'system'), reason, status FROM offers WHERE decided_at IS NOT NULL;

-- Why did this customer get this message: every step of an enrollment, taken or withheld, with
-- its reason. A run keeps the campaign as it was when it started (its steps and goal).
CREATE TABLE enrollment_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  campaign_id uuid NOT NULL REFERENCES campaigns (id),
  customer_id uuid NOT NULL REFERENCES customers (id),
  run_key     text NOT NULL,
  step        integer,
  type        text NOT NULL,
  outcome     text NOT NULL,
  detail      text,
  at          timestamptz NOT NULL,
  entry_key   text NOT NULL,
  CONSTRAINT enrollment_events_entry_key UNIQUE (entry_key)
);
CREATE INDEX enrollment_events_enrollment_idx ON enrollment_events (campaign_id, customer_id, run_key, at, id);

INSERT INTO enrollment_events (campaign_id, customer_id, run_key, step, type, outcome, detail, at, entry_key)
SELECT campaign_id, customer_id, run_key, NULL, 'enrolled', 'enrolled', 'run ' || run_key, enrolled_at,
       'enrollment:' || campaign_id || ':' || customer_id || ':' || run_key || ':enrolled'
FROM campaign_enrollments;
INSERT INTO enrollment_events (campaign_id, customer_id, run_key, step, type, outcome, detail, at, entry_key)
SELECT campaign_id, customer_id, run_key, NULL, 'end', status, end_reason, ended_at,
       'enrollment:' || campaign_id || ':' || customer_id || ':' || run_key || ':end'
FROM campaign_enrollments WHERE ended_at IS NOT NULL;

ALTER TABLE campaign_runs ADD COLUMN snapshot jsonb;

-- Down Migration
ALTER TABLE campaign_runs DROP COLUMN snapshot;
DROP TABLE enrollment_events;
DROP TABLE offer_events;
DROP TABLE gdpr_requests;
ALTER TABLE verification_subjects DROP COLUMN checks;
ALTER TABLE change_requests ADD COLUMN timeline jsonb NOT NULL DEFAULT '[]'::jsonb;
UPDATE change_requests r SET timeline = COALESCE((
  SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('status', e.status, 'at', e.at, 'actor', e.actor, 'reason', e.reason)) ORDER BY e.at, e.id)
  FROM request_events e WHERE e.request_id = r.id::text AND e.entry_key LIKE 'transition:%'), '[]'::jsonb);
ALTER TABLE change_requests
  DROP COLUMN outcome_detail, DROP COLUMN applied_version, DROP COLUMN decision_comment, DROP COLUMN decided_by,
  DROP COLUMN decision, DROP COLUMN escalated, DROP COLUMN approval_due_at, DROP COLUMN approval_required,
  DROP COLUMN verification, DROP COLUMN preview;
DROP TABLE request_events;
