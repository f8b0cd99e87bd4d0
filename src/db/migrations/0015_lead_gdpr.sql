-- Up Migration

-- GDPR requests of a person known only as a lead (no customer): export and erasure by e-mail
-- address, confirmed with a one-time code sent to that address. Such a request has no customer,
-- so the request, its timeline, its code subject and its export carry none.
ALTER TABLE gdpr_requests ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE request_events ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE verification_subjects ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE gdpr_exports ALTER COLUMN customer_id DROP NOT NULL;

-- The e-mail address a lead request is about (normalised), kept only while the request is open:
-- a second request for the same address finds the open one (one open export and one open erasure
-- per address, also under concurrent requests). Cleared when the request closes and by the erasure,
-- so no closed request holds the address.
ALTER TABLE gdpr_requests ADD COLUMN subject_email text;
CREATE UNIQUE INDEX gdpr_requests_open_subject_email_key ON gdpr_requests (kind, subject_email) WHERE subject_email IS NOT NULL;

-- Down Migration
DROP INDEX gdpr_requests_open_subject_email_key;
ALTER TABLE gdpr_requests DROP COLUMN subject_email;
DELETE FROM gdpr_exports WHERE customer_id IS NULL;
DELETE FROM verification_subjects WHERE customer_id IS NULL;
DELETE FROM request_events WHERE customer_id IS NULL;
DELETE FROM gdpr_requests WHERE customer_id IS NULL;
ALTER TABLE gdpr_exports ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE verification_subjects ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE request_events ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE gdpr_requests ALTER COLUMN customer_id SET NOT NULL;
