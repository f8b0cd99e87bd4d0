-- Up Migration

-- Processes analytics follows while they run (funnels and tasks), not only once they close: the
-- open pipeline is what is running now. Still only what Temporal records without decoding a
-- payload: search-attribute upserts and event times.

-- Where following stands: closed runs before `watermark` are read to their end.
CREATE TABLE follow_state (
  id          boolean PRIMARY KEY DEFAULT true CHECK (id),
  watermark   timestamptz NOT NULL DEFAULT 'epoch',
  last_run_at timestamptz,
  -- the last pass: runs listed, runs whose new events were read, events read
  last_listed integer NOT NULL DEFAULT 0,
  last_read   integer NOT NULL DEFAULT 0,
  last_events integer NOT NULL DEFAULT 0
);
INSERT INTO follow_state DEFAULT VALUES;

-- One row per run, with a cursor: the last event read and the visibility record it was read at.
-- The search attributes so far are kept typed; a continued-as-new run starts from its predecessor's.
CREATE TABLE followed_runs (
  run_id         text PRIMARY KEY,
  workflow_id    text NOT NULL,
  workflow_type  text NOT NULL,
  process        text NOT NULL,
  -- 'running' or how the run closed (as process_runs.status)
  run_status     text NOT NULL,
  start_time     timestamptz NOT NULL,
  close_time     timestamptz,
  last_event_id  bigint NOT NULL DEFAULT 0,
  visibility     text,
  attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
  status         text,
  owner          text,
  team           text,
  amount         numeric,
  currency       text,
  probability    numeric,
  expected_close timestamptz,
  changed_at     timestamptz,
  events_read    bigint NOT NULL DEFAULT 0,
  reads          integer NOT NULL DEFAULT 0
);
CREATE INDEX followed_runs_workflow_idx ON followed_runs (workflow_id, start_time);
CREATE INDEX followed_runs_process_idx ON followed_runs (process, run_status);

-- Every change of CrmStatus of a followed run, read while it runs.
CREATE TABLE followed_status_changes (
  run_id      text NOT NULL REFERENCES followed_runs (run_id) ON DELETE CASCADE,
  event_id    bigint NOT NULL,
  workflow_id text NOT NULL,
  process     text NOT NULL,
  from_status text,
  to_status   text NOT NULL,
  at          timestamptz NOT NULL,
  context     jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (run_id, event_id)
);
CREATE INDEX followed_status_changes_workflow_idx ON followed_status_changes (workflow_id, at);

-- One row per process across its runs (joined by workflow id): the newest run's values, the
-- first run's start. Open while its newest run runs or continued as new.
CREATE VIEW followed_processes AS
SELECT latest.workflow_id, latest.process, latest.run_id, latest.run_status, firsts.first_start,
       latest.run_status IN ('running', 'continued_as_new') AS open,
       CASE WHEN latest.run_status IN ('running', 'continued_as_new') THEN NULL ELSE latest.close_time END AS closed_at,
       latest.status, latest.owner, latest.team, latest.amount, latest.currency, latest.probability, latest.expected_close,
       latest.attributes, latest.changed_at
  FROM (SELECT DISTINCT ON (workflow_id) * FROM followed_runs ORDER BY workflow_id, start_time DESC, run_id DESC) latest
  JOIN (SELECT workflow_id, min(start_time) AS first_start FROM followed_runs GROUP BY workflow_id) firsts USING (workflow_id);

-- Down Migration
DROP VIEW followed_processes;
DROP TABLE followed_status_changes;
DROP TABLE followed_runs;
DROP TABLE follow_state;
