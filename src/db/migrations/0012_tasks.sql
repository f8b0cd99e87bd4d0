-- Up Migration
-- Tasks: the work a process hands to a person and waits on (contact a lead whose SLA was missed,
-- make the first contact with a new customer, look after a stalled onboarding, follow up an
-- offer). Each task belongs to an active user and, through them, to a team; it links to the
-- process that made it (the workflow that waits on it) and to the customer or lead it is about.
-- Written by activities in the transaction of their effect, keyed by the process's workflow id
-- and step (`idempotency_key`), so a retried activity finds its task instead of adding one.
CREATE TABLE tasks (
  id uuid PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  kind text NOT NULL CHECK (kind IN ('lead-contact', 'onboarding-first-contact', 'onboarding-stalled', 'change-approval', 'offer-follow-up')),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
  owner_id uuid NOT NULL REFERENCES users (id),
  team_id uuid REFERENCES teams (id),
  due_at timestamptz NOT NULL,
  -- while in the future, the task is out of the way: not overdue, no escalation
  snoozed_until timestamptz,
  -- how often it was overdue and went up the team (0: never)
  escalation_level integer NOT NULL DEFAULT 0,
  process text NOT NULL,
  -- the process that made the task and waits on it; the task's own workflow is task-<id>
  workflow_id text NOT NULL,
  customer_id uuid REFERENCES customers (id),
  lead_id uuid REFERENCES leads (id),
  outcome text,
  closed_by text,
  closed_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tasks_closed_check CHECK ((status = 'open') = (closed_at IS NULL))
);
-- The lists: a person's, a team's, everything overdue or due today, each by due date.
CREATE INDEX tasks_owner_due_idx ON tasks (owner_id, due_at, id) WHERE status = 'open';
CREATE INDEX tasks_team_due_idx ON tasks (team_id, due_at, id) WHERE status = 'open';
CREATE INDEX tasks_open_due_idx ON tasks (due_at, id) WHERE status = 'open';
CREATE INDEX tasks_due_idx ON tasks (due_at, id);
CREATE INDEX tasks_customer_idx ON tasks (customer_id, due_at, id) WHERE customer_id IS NOT NULL;
CREATE INDEX tasks_lead_idx ON tasks (lead_id, due_at, id) WHERE lead_id IS NOT NULL;
CREATE INDEX tasks_workflow_idx ON tasks (workflow_id);

-- A task's timeline: opened, snoozed, reassigned, escalated, completed, cancelled; who, when,
-- from whom to whom, why. Keyed like the task (the step that wrote it).
CREATE TABLE task_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id uuid NOT NULL REFERENCES tasks (id),
  kind text NOT NULL CHECK (kind IN ('opened', 'snoozed', 'reassigned', 'escalated', 'completed', 'cancelled')),
  actor text NOT NULL,
  from_owner uuid REFERENCES users (id),
  to_owner uuid REFERENCES users (id),
  due_at timestamptz,
  snoozed_until timestamptz,
  outcome text,
  reason text,
  workflow_id text,
  idempotency_key text NOT NULL UNIQUE,
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_events_task_idx ON task_events (task_id, id);

-- Down Migration
DROP TABLE task_events;
DROP TABLE tasks;
