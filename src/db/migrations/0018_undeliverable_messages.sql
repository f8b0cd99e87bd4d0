-- Up Migration

-- A message that cannot be delivered (the recipient was erased, the gateway or mail server refused
-- the number or address for good, retries ran out) ends undeliverable instead of retrying
-- forever: when, the failure type (RecipientErased, RecipientInvalid, RetriesExhausted, ...) and
-- the transport's words. The erasure clears the words (they may quote the address), not the type.
ALTER TABLE notification_outbox
  ADD COLUMN undeliverable_at timestamptz,
  ADD COLUMN undeliverable_type text,
  ADD COLUMN undeliverable_reason text,
  ADD CONSTRAINT notification_outbox_undeliverable_check CHECK ((undeliverable_at IS NULL) = (undeliverable_type IS NULL));

-- An undeliverable message raises a task for the customer's account manager (or the back office).
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check
  CHECK (kind IN ('lead-contact', 'onboarding-first-contact', 'onboarding-stalled', 'change-approval', 'offer-follow-up', 'message-undeliverable'));

-- Down Migration
DELETE FROM task_events WHERE task_id IN (SELECT id FROM tasks WHERE kind = 'message-undeliverable');
DELETE FROM tasks WHERE kind = 'message-undeliverable';
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check
  CHECK (kind IN ('lead-contact', 'onboarding-first-contact', 'onboarding-stalled', 'change-approval', 'offer-follow-up'));
ALTER TABLE notification_outbox
  DROP CONSTRAINT notification_outbox_undeliverable_check,
  DROP COLUMN undeliverable_at,
  DROP COLUMN undeliverable_type,
  DROP COLUMN undeliverable_reason;
