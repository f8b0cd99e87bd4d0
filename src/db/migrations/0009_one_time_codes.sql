-- Up Migration
-- The onboarding opt-in code becomes a one-time code like every other: a salted scrypt hash in
-- verification_codes with an expiry, its attempts counted on its verification_subjects row.
-- customer_onboardings.opt_in_code_hash stays only for onboardings that were running before
-- (their code was mailed under the old scheme); no new row writes it.
ALTER TABLE verification_subjects DROP CONSTRAINT verification_subjects_purpose_check;
ALTER TABLE verification_subjects ADD CONSTRAINT verification_subjects_purpose_check CHECK (purpose IN ('change', 'export', 'erasure', 'opt-in'));
ALTER TABLE customer_onboardings ALTER COLUMN opt_in_code_hash DROP NOT NULL;
-- Codes no longer sit in the outbox: a delivered opt-in message loses its code now, one still
-- waiting for its transport loses it when it is sent.
UPDATE notification_outbox SET payload = payload - 'code' WHERE template = 'onboarding-opt-in' AND sent_at IS NOT NULL AND payload ? 'code';

-- Down Migration
UPDATE customer_onboardings SET opt_in_code_hash = '' WHERE opt_in_code_hash IS NULL;
ALTER TABLE customer_onboardings ALTER COLUMN opt_in_code_hash SET NOT NULL;
DELETE FROM verification_subjects WHERE purpose = 'opt-in';
ALTER TABLE verification_subjects DROP CONSTRAINT verification_subjects_purpose_check;
ALTER TABLE verification_subjects ADD CONSTRAINT verification_subjects_purpose_check CHECK (purpose IN ('change', 'export', 'erasure'));
