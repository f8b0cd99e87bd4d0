-- Up Migration

-- Why a run that handled a failed activity ended as it did: the failure type of its last failed
-- attempt (an application failure's type, `Timeout` for a timed-out one), read from the history
-- without decoding a payload. The undeliverable messages of the processes report group by it.
ALTER TABLE process_runs ADD COLUMN activity_failure_type text;

-- Down Migration
ALTER TABLE process_runs DROP COLUMN activity_failure_type;
