-- Up Migration

-- The non-personal search attributes in force when a status was entered (e.g. which fields a
-- master-data change touches, which campaign an enrollment belongs to), so that processes that
-- handle several items in one run can be reported per item.
ALTER TABLE status_transitions ADD COLUMN context jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Down Migration
ALTER TABLE status_transitions DROP COLUMN context;
