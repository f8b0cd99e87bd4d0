-- Up Migration

-- The analytics store holds facts derived from Temporal's record of closed workflows only:
-- event times, search attributes (minus the customer id) and activity types. No personal data.

-- Where ingestion stands: everything that closed before `watermark` has been read.
CREATE TABLE ingest_state (
  id            boolean PRIMARY KEY DEFAULT true CHECK (id),
  watermark     timestamptz NOT NULL DEFAULT 'epoch',
  runs_ingested bigint NOT NULL DEFAULT 0,
  last_run_at   timestamptz,
  last_batch    integer NOT NULL DEFAULT 0
);
INSERT INTO ingest_state DEFAULT VALUES;

-- One row per closed workflow run.
CREATE TABLE process_runs (
  run_id         text PRIMARY KEY,
  workflow_id    text NOT NULL,
  workflow_type  text NOT NULL,
  process        text,
  status         text NOT NULL CHECK (status IN ('completed', 'failed', 'terminated', 'timed_out', 'canceled', 'continued_as_new')),
  failure_type   text,
  final_status   text,
  attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
  start_time     timestamptz NOT NULL,
  close_time     timestamptz NOT NULL,
  duration_ms    bigint NOT NULL,
  history_length integer NOT NULL,
  ingested_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX process_runs_type_close_idx ON process_runs (workflow_type, close_time);
CREATE INDEX process_runs_close_idx ON process_runs (close_time);

-- Each change of CrmStatus (the stage or status an operator sees), in order, with time spent in the previous one.
CREATE TABLE status_transitions (
  run_id        text NOT NULL REFERENCES process_runs (run_id) ON DELETE CASCADE,
  seq           integer NOT NULL,
  workflow_type text NOT NULL,
  from_status   text,
  to_status     text NOT NULL,
  at            timestamptz NOT NULL,
  ms_in_from    bigint,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX status_transitions_type_idx ON status_transitions (workflow_type, at);

-- Activities a run completed or failed, by type, and child workflows it started as `child:<type>`
-- (a message delivery, an offer).
CREATE TABLE activity_counts (
  run_id        text NOT NULL REFERENCES process_runs (run_id) ON DELETE CASCADE,
  activity_type text NOT NULL,
  completed     integer NOT NULL DEFAULT 0,
  failed        integer NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, activity_type)
);

-- Down Migration
DROP TABLE activity_counts;
DROP TABLE status_transitions;
DROP TABLE process_runs;
DROP TABLE ingest_state;
