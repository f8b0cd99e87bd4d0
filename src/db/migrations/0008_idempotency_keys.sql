-- Up Migration

-- Idempotency-Keys, honoured for IDEMPOTENCY_TTL whatever Temporal has forgotten. A key is
-- claimed here before anything starts, so concurrent duplicates start one process; its first
-- answer is kept and replayed. `scope` is drawn at the claim: the ids of what the request creates
-- derive from it, so a key used again after it expired creates new things instead of finding old.
CREATE TABLE idempotency_keys (
  operation       text NOT NULL,                 -- method and concrete path, e.g. POST /v1/customers/{id}/offers
  key             text NOT NULL CHECK (key ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  actor           text NOT NULL,                 -- who claimed it; another actor may not use it
  request_hash    text NOT NULL,                 -- SHA-256 of the canonical JSON body
  scope           uuid NOT NULL,
  workflow_id     text,                          -- the process the request started, once it did
  response_status integer CHECK (response_status BETWEEN 200 AND 499),
  response_body   text,                          -- as sent (JSON)
  response_type   text,                          -- its Content-Type
  response_location text,                        -- the Location header: the resource it points to
  response_final  boolean NOT NULL DEFAULT false, -- false: no answer yet, or 202 pending (the process still ran)
  created_at      timestamptz NOT NULL DEFAULT now(),
  answered_at     timestamptz,
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (operation, key),
  CHECK (expires_at > created_at)
);
-- The purge deletes expired keys oldest first.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Down Migration
DROP TABLE idempotency_keys;
