-- Up Migration

-- What retention needs to know about a customer: the time zone that quiet hours are kept in
-- (NULL: the campaign's time zone) and a churn-risk score in [0, 1] that a scoring job or an agent
-- sets (NULL: not scored). Downsell offers and segments read the score.
ALTER TABLE customers
  ADD COLUMN timezone   text,
  ADD COLUMN churn_risk numeric(4, 3) CHECK (churn_risk IS NULL OR (churn_risk >= 0 AND churn_risk <= 1));

-- The product catalogue. Within a category a higher tier is the bigger product: upsell moves up,
-- downsell moves down, cross-sell moves to a complementary category.
CREATE TABLE products (
  id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
  name       text NOT NULL,
  category   text NOT NULL CHECK (category ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
  tier       integer NOT NULL CHECK (tier BETWEEN 1 AND 10),
  price      numeric(10, 2) NOT NULL CHECK (price >= 0),
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_idx ON products (category, tier);

-- Which category sells well beside which: the cross-sell rule reads this.
CREATE TABLE category_complements (
  category   text NOT NULL,
  complement text NOT NULL,
  PRIMARY KEY (category, complement),
  CHECK (category <> complement)
);

INSERT INTO products (id, name, category, tier, price) VALUES
  ('internet-s', 'Internet S (50 Mbit/s)', 'internet', 1, 19.99),
  ('internet-m', 'Internet M (250 Mbit/s)', 'internet', 2, 29.99),
  ('internet-l', 'Internet L (1 Gbit/s)', 'internet', 3, 44.99),
  ('mobile-s', 'Mobile S (5 GB)', 'mobile', 1, 9.99),
  ('mobile-m', 'Mobile M (20 GB)', 'mobile', 2, 19.99),
  ('mobile-l', 'Mobile L (unlimited)', 'mobile', 3, 34.99),
  ('tv-basic', 'TV Basic', 'tv', 1, 9.99),
  ('tv-premium', 'TV Premium', 'tv', 2, 24.99),
  ('security-home', 'Home Security', 'security', 1, 4.99);

INSERT INTO category_complements (category, complement) VALUES
  ('internet', 'tv'), ('internet', 'mobile'), ('internet', 'security'),
  ('mobile', 'internet'), ('mobile', 'security'),
  ('tv', 'internet');

-- What a customer owns. Ending a product keeps its row (ended_at set), so history stays readable;
-- at most one active row per customer and product.
CREATE TABLE customer_products (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers (id),
  product_id   text NOT NULL REFERENCES products (id),
  price        numeric(10, 2) NOT NULL,
  source       text NOT NULL CHECK (source IN ('offer', 'purchase', 'import')),
  source_id    text,
  acquired_at  timestamptz NOT NULL,
  ended_at     timestamptz,
  ended_reason text
);
CREATE UNIQUE INDEX customer_products_active_key ON customer_products (customer_id, product_id) WHERE ended_at IS NULL;
CREATE INDEX customer_products_customer_idx ON customer_products (customer_id, acquired_at DESC);

-- Things a customer did that campaigns react to: a goal (purchase, login), an end (opt-out,
-- complaint), a reason to downsell (cancellation request).
CREATE TABLE customer_events (
  id              uuid PRIMARY KEY,
  customer_id     uuid NOT NULL REFERENCES customers (id),
  type            text NOT NULL CHECK (type IN ('purchase', 'login', 'complaint', 'opt-out', 'cancellation-request')),
  product_id      text REFERENCES products (id),
  channel         text CHECK (channel IN ('email', 'sms', 'call', 'letter')),
  note            text,
  occurred_at     timestamptz NOT NULL,
  recorded_by     text NOT NULL,
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customer_events_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX customer_events_customer_idx ON customer_events (customer_id, type, occurred_at DESC);

-- Offers: one row per `offer` workflow, written by its eligibility step and moved by its outcome.
CREATE TABLE offers (
  id                  uuid PRIMARY KEY,
  customer_id         uuid NOT NULL REFERENCES customers (id),
  kind                text NOT NULL CHECK (kind IN ('upsell', 'cross-sell', 'downsell')),
  product_id          text NOT NULL REFERENCES products (id),
  replaces_product_id text REFERENCES products (id),
  price               numeric(10, 2) NOT NULL,
  valid_until         timestamptz NOT NULL,
  status              text NOT NULL CHECK (status IN ('ineligible', 'pending', 'presented', 'accepted', 'declined', 'expired', 'withdrawn')),
  rule                text,
  reason              text,
  campaign_id         uuid,
  workflow_id         text NOT NULL,
  created_by          text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  presented_at        timestamptz,
  decided_at          timestamptz,
  decided_by          text
);
CREATE INDEX offers_customer_idx ON offers (customer_id, created_at DESC);
CREATE INDEX offers_open_idx ON offers (customer_id, product_id) WHERE status IN ('pending', 'presented');

-- Campaign definitions. The definition (segment, steps, goal, rules) is validated by the API's zod
-- schema and stored whole; the Temporal Schedule `campaign-<id>` fires its runs.
CREATE TABLE campaigns (
  id         uuid PRIMARY KEY,
  name       text NOT NULL,
  definition jsonb NOT NULL,
  status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per campaign run (a schedule firing or a manual trigger), kept up to date page by page.
CREATE TABLE campaign_runs (
  run_key     text PRIMARY KEY,
  campaign_id uuid NOT NULL REFERENCES campaigns (id),
  status      text NOT NULL CHECK (status IN ('running', 'completed', 'skipped')),
  reason      text,
  pages       integer NOT NULL DEFAULT 0,
  selected    integer NOT NULL DEFAULT 0,
  enrolled    integer NOT NULL DEFAULT 0,
  skipped     integer NOT NULL DEFAULT 0,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz
);
CREATE INDEX campaign_runs_campaign_idx ON campaign_runs (campaign_id, started_at DESC);

-- Every enrollment of a customer in a campaign: the re-enrollment policy reads it, customer
-- events find the enrollments to signal through it.
CREATE TABLE campaign_enrollments (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  campaign_id uuid NOT NULL REFERENCES campaigns (id),
  customer_id uuid NOT NULL REFERENCES customers (id),
  run_key     text NOT NULL,
  workflow_id text NOT NULL,
  status      text NOT NULL CHECK (status IN ('active', 'completed', 'goal-met', 'opted-out', 'suppressed')),
  end_reason  text,
  enrolled_at timestamptz NOT NULL,
  ended_at    timestamptz,
  CONSTRAINT campaign_enrollments_run_key UNIQUE (campaign_id, customer_id, run_key)
);
CREATE INDEX campaign_enrollments_active_idx ON campaign_enrollments (customer_id) WHERE status = 'active';
CREATE INDEX campaign_enrollments_history_idx ON campaign_enrollments (campaign_id, customer_id, enrolled_at DESC);

-- Down Migration
DROP TABLE campaign_enrollments;
DROP TABLE campaign_runs;
DROP TABLE campaigns;
DROP TABLE offers;
DROP TABLE customer_events;
DROP TABLE customer_products;
DROP TABLE category_complements;
DROP TABLE products;
ALTER TABLE customers DROP COLUMN churn_risk, DROP COLUMN timezone;
