-- Up Migration

-- Analytics keeps no identifier that leads back to a person: workflow ids (`master-data-<customer
-- id>`, `onboarding-<customer id>`, ...) are stored as random pseudonyms. The mapping lives only
-- here, with the customer the run was tagged with (CrmCustomerId); when analytics ingests a
-- customer's completed erasure (a closed `gdprErasure` run, status `erased`) it deletes the
-- customer's mappings, so their runs stay counted but can no longer be tied to them.
CREATE TABLE pseudonyms (
  real_id     text PRIMARY KEY,
  pseudonym   text NOT NULL UNIQUE DEFAULT 'wf-' || replace(gen_random_uuid()::text, '-', ''),
  customer_id text
);
CREATE INDEX pseudonyms_customer_idx ON pseudonyms (customer_id) WHERE customer_id IS NOT NULL;

-- Customers whose erasure analytics has seen, as SHA-256 of their id (no id is kept): a run of theirs
-- ingested later gets a pseudonym with no mapping.
CREATE TABLE erased_customers (
  customer_sha256 text PRIMARY KEY,
  erased_at timestamptz NOT NULL DEFAULT now()
);

-- The pseudonym of a workflow id (made on first use); remembers the customer when one is known.
CREATE FUNCTION analytics_pseudonym(real_workflow_id text, customer text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE p text;
BEGIN
  IF customer IS NOT NULL AND EXISTS (SELECT 1 FROM erased_customers WHERE customer_sha256 = encode(sha256(convert_to(customer, 'UTF8')), 'hex')) THEN
    RETURN 'wf-' || replace(gen_random_uuid()::text, '-', '');
  END IF;
  INSERT INTO pseudonyms (real_id, customer_id) VALUES (real_workflow_id, customer)
  ON CONFLICT (real_id) DO UPDATE SET customer_id = COALESCE(EXCLUDED.customer_id, pseudonyms.customer_id)
  RETURNING pseudonym INTO p;
  RETURN p;
END
$$;

UPDATE process_runs SET workflow_id = analytics_pseudonym(workflow_id, NULL);
UPDATE followed_runs SET workflow_id = analytics_pseudonym(workflow_id, NULL);
UPDATE followed_status_changes SET workflow_id = analytics_pseudonym(workflow_id, NULL);

-- Down Migration
-- The pseudonyms stay in the fact tables: their real ids are not restored (erased ones cannot be).
DROP FUNCTION analytics_pseudonym(text, text);
DROP TABLE pseudonyms;
DROP TABLE erased_customers;
