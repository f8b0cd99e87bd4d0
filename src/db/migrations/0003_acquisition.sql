-- Up Migration

-- Leads: the operational record of each lead funnel. The workflow `lead-<id>` is the authority on
-- the stage; this row mirrors it (stage_seq orders the writes) so a lead can be deduplicated by
-- e-mail and linked to the customer it became.
CREATE TABLE leads (
  id               uuid PRIMARY KEY,
  workflow_id      text NOT NULL,
  name             text NOT NULL,
  email            text NOT NULL,
  email_normalized text NOT NULL,
  phone            text,
  company          text,
  company_size     text CHECK (company_size IN ('1-10', '11-50', '51-200', '201-1000', '1000+')),
  source           text NOT NULL CHECK (source IN ('web', 'event', 'referral', 'import', 'partner')),
  interest         text,
  locale           text NOT NULL DEFAULT 'en',
  owner_id         text NOT NULL,
  stage            text NOT NULL DEFAULT 'new' CHECK (stage IN ('new', 'contacted', 'qualified', 'proposal', 'nurture', 'won', 'lost')),
  stage_seq        integer NOT NULL DEFAULT 0,
  score            integer CHECK (score BETWEEN 0 AND 100),
  score_grade      text,
  score_reasons    jsonb NOT NULL DEFAULT '[]'::jsonb,
  scored_at        timestamptz,
  lost_reason      text,
  customer_id      uuid REFERENCES customers (id),
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  closed_at        timestamptz
);
-- One open lead per person: the guard behind "not funnelled twice", also under concurrent intakes.
CREATE UNIQUE INDEX leads_open_email_key ON leads (email_normalized) WHERE stage NOT IN ('won', 'lost');
CREATE INDEX leads_email_idx ON leads (email_normalized);
CREATE INDEX leads_customer_idx ON leads (customer_id) WHERE customer_id IS NOT NULL;

-- Round-robin cursors (lead owners, account managers): one row per rotation, advanced atomically.
CREATE TABLE owner_rotation (
  rotation  text PRIMARY KEY,
  next_turn bigint NOT NULL DEFAULT 0
);

-- Onboarding of each new customer: the opt-in code (only its hash) and the outcome.
CREATE TABLE customer_onboardings (
  customer_id         uuid PRIMARY KEY REFERENCES customers (id),
  workflow_id         text NOT NULL,
  account_manager     text NOT NULL,
  opt_in_code_hash    text NOT NULL,
  opt_in_confirmed_at timestamptz,
  status              text NOT NULL DEFAULT 'in-progress' CHECK (status IN ('in-progress', 'onboarded', 'stalled')),
  reasons             jsonb NOT NULL DEFAULT '[]'::jsonb,
  started_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz
);

-- Down Migration
DROP TABLE customer_onboardings;
DROP TABLE owner_rotation;
DROP TABLE leads;
