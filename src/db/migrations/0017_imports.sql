-- Up Migration

-- Bulk imports of customers or leads (POST /v1/imports). The uploaded file is kept here, row by
-- row, and not in Temporal: the `import-<id>` workflow passes only the import id and counters,
-- and each page activity reads its rows from this table. The counters are written in the page's
-- transaction, so a progress read needs no worker and no Temporal.
CREATE TABLE imports (
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('customers', 'leads')),
  format text NOT NULL CHECK (format IN ('csv', 'ndjson')),
  -- SHA-256 of the uploaded bytes: a rerun of the same file is recognised (its rows come out duplicates)
  content_sha256 text NOT NULL,
  -- the CSV header as uploaded (the columns of the rejected-rows download); NULL for JSON lines
  columns text[],
  status text NOT NULL CHECK (status IN ('queued', 'running', 'cancelling', 'cancelled', 'completed')),
  rows_total integer NOT NULL,
  rows_done integer NOT NULL DEFAULT 0,
  created integer NOT NULL DEFAULT 0,
  duplicates integer NOT NULL DEFAULT 0,
  rejected integer NOT NULL DEFAULT 0,
  pages integer NOT NULL DEFAULT 0,
  workflow_id text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  cancelled_by text,
  cancelled_at timestamptz,
  resumed_by text,
  resumed_at timestamptz
);
CREATE INDEX imports_created_idx ON imports (created_at DESC, id DESC);
CREATE INDEX imports_content_idx ON imports (kind, content_sha256);

-- One row per record of the file. `data` is the record as read (CSV: column → text; JSON lines:
-- the object); `outcome` is NULL until its page ran. The person's e-mail (normalised) is kept
-- beside it for the dedupe within a file and for the erasure, which scrubs `data` by it.
CREATE TABLE import_rows (
  import_id uuid NOT NULL REFERENCES imports (id),
  -- 1-based position of the record in the file (CSV: the first row after the header is 1)
  row_number integer NOT NULL,
  data jsonb NOT NULL,
  email_normalized text,
  outcome text CHECK (outcome IN ('created', 'duplicate', 'rejected')),
  -- why a row was rejected or is a duplicate (which record it duplicates)
  reason text,
  -- a rejection's fields: [{path, message}]
  errors jsonb,
  customer_id uuid,
  lead_id uuid,
  -- a created lead's funnel has been started (leads only)
  process_started boolean NOT NULL DEFAULT false,
  processed_at timestamptz,
  erased_at timestamptz,
  PRIMARY KEY (import_id, row_number)
);
CREATE INDEX import_rows_pending_idx ON import_rows (import_id, row_number) WHERE outcome IS NULL;
CREATE INDEX import_rows_rejected_idx ON import_rows (import_id, row_number) WHERE outcome = 'rejected';
CREATE INDEX import_rows_unstarted_idx ON import_rows (import_id, row_number) WHERE outcome = 'created' AND lead_id IS NOT NULL AND NOT process_started;
CREATE INDEX import_rows_email_idx ON import_rows (email_normalized) WHERE email_normalized IS NOT NULL;
CREATE INDEX import_rows_customer_idx ON import_rows (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX import_rows_lead_idx ON import_rows (lead_id) WHERE lead_id IS NOT NULL;

-- Down Migration
DROP TABLE import_rows;
DROP TABLE imports;
