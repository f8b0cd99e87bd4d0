-- Up Migration

-- The new bank account of a change waiting for four-eyes approval, in full, so an approver can
-- see what they approve through the audited reveal (POST /v1/changes/{id}/reveal). Every other
-- read shows only the masked preview. Kept only while the change is open: closing it (applied,
-- rejected, cancelled, expired) clears it, and erasure clears it with the customer's other values.
ALTER TABLE change_requests ADD COLUMN new_bank_account text;

-- Down Migration
ALTER TABLE change_requests DROP COLUMN new_bank_account;
