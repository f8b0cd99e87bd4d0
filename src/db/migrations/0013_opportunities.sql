-- Up Migration

-- Opportunities: the lead funnel run for an existing customer. An opportunity is a lead row of kind
-- 'opportunity', linked to its customer from the start, so one funnel, one table and one set of
-- repositories serve both; its source is 'customer'. Only leads are deduplicated by e-mail: a
-- customer may have several open opportunities.
ALTER TABLE leads
  ADD COLUMN kind text NOT NULL DEFAULT 'lead' CHECK (kind IN ('lead', 'opportunity')),
  ADD CONSTRAINT leads_opportunity_customer_check CHECK (kind = 'lead' OR customer_id IS NOT NULL);
ALTER TABLE leads
  DROP CONSTRAINT leads_source_check,
  ADD CONSTRAINT leads_source_check CHECK (source IN ('web', 'event', 'referral', 'import', 'partner', 'customer'));
DROP INDEX leads_open_email_key;
CREATE UNIQUE INDEX leads_open_email_key ON leads (email_normalized) WHERE kind = 'lead' AND stage NOT IN ('won', 'lost');
CREATE INDEX leads_customer_kind_idx ON leads (customer_id, kind, created_at DESC, id DESC) WHERE customer_id IS NOT NULL;

-- The deal of every lead and opportunity: what it is worth, in which currency, when it is expected
-- to close, which catalogue products it sells, and the probability of its current stage (from the
-- STAGE_PROBABILITIES the funnel was started with), as the funnel last recorded them.
ALTER TABLE leads
  ADD COLUMN deal_amount      numeric CHECK (deal_amount > 0),
  ADD COLUMN deal_currency    text CHECK (deal_currency ~ '^[A-Z]{3}$'),
  ADD COLUMN expected_close   date,
  ADD COLUMN product_ids      text[] NOT NULL DEFAULT '{}',
  ADD COLUMN probability      numeric CHECK (probability BETWEEN 0 AND 1);

-- The probability each stage had when the funnel entered it: the stage timeline tells how the
-- probability moved.
ALTER TABLE lead_transitions ADD COLUMN probability numeric CHECK (probability BETWEEN 0 AND 1);

-- The deal's timeline: every change of amount, currency, expected close or products, who made it,
-- when and why, and which workflow run recorded it. `seq` is the entry's position in the funnel's
-- list (0: the deal as taken in), so a retried write finds its entry instead of adding one.
CREATE TABLE lead_deal_changes (
  lead_id        uuid NOT NULL REFERENCES leads (id),
  seq            integer NOT NULL CHECK (seq >= 0),
  amount         numeric CHECK (amount > 0),
  currency       text CHECK (currency ~ '^[A-Z]{3}$'),
  expected_close date,
  product_ids    text[] NOT NULL DEFAULT '{}',
  probability    numeric CHECK (probability BETWEEN 0 AND 1),
  at             timestamptz NOT NULL,
  actor          text NOT NULL,
  reason         text,
  workflow_id    text NOT NULL,
  run_id         text,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT lead_deal_changes_pkey PRIMARY KEY (lead_id, seq)
);

-- A won deal adds its products to what the customer owns (source 'deal', source_id the lead id).
ALTER TABLE customer_products
  DROP CONSTRAINT customer_products_source_check,
  ADD CONSTRAINT customer_products_source_check CHECK (source IN ('offer', 'purchase', 'import', 'deal'));

-- Down Migration
DELETE FROM customer_products WHERE source = 'deal';
ALTER TABLE customer_products
  DROP CONSTRAINT customer_products_source_check,
  ADD CONSTRAINT customer_products_source_check CHECK (source IN ('offer', 'purchase', 'import'));
DROP TABLE lead_deal_changes;
ALTER TABLE lead_transitions DROP COLUMN probability;
ALTER TABLE leads DROP COLUMN probability, DROP COLUMN product_ids, DROP COLUMN expected_close, DROP COLUMN deal_currency, DROP COLUMN deal_amount;
DROP INDEX leads_customer_kind_idx;
DROP INDEX leads_open_email_key;
DELETE FROM lead_transitions WHERE lead_id IN (SELECT id FROM leads WHERE kind = 'opportunity');
DELETE FROM audit_log WHERE lead_id IN (SELECT id FROM leads WHERE kind = 'opportunity');
DELETE FROM leads WHERE kind = 'opportunity';
CREATE UNIQUE INDEX leads_open_email_key ON leads (email_normalized) WHERE stage NOT IN ('won', 'lost');
ALTER TABLE leads
  DROP CONSTRAINT leads_source_check,
  ADD CONSTRAINT leads_source_check CHECK (source IN ('web', 'event', 'referral', 'import', 'partner'));
ALTER TABLE leads DROP CONSTRAINT leads_opportunity_customer_check, DROP COLUMN kind;
