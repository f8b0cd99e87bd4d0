/**
 * Tasks (`tasks`) and their timeline (`task_events`). Every step of a task is written here by an
 * activity, in one transaction with its timeline entry and its audit rows, under a key made of
 * the writing workflow's id and its step: a retried step finds what it wrote and writes nothing.
 */
import type { Pool, PoolClient } from '../pool.js';
import { recordEvent } from './webhook-events.js';
import { after, orderBy, pageOf, type Position, type SortOrder } from '../keyset.js';
import { writeAudit } from './audit-log.js';
import { escalationTarget, readActiveUser, readUser, type User } from './users.js';
import type { CrmProcess } from '../../domain/processes.js';
import type { OpenedTask, TaskEventKind, TaskKind, TaskPriority, TaskSpec, TaskStatus, TaskView } from '../../domain/tasks.js';
import { taskWorkflowId } from '../../domain/tasks.js';

type Db = Pool | PoolClient;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Task {
  id: string;
  kind: TaskKind;
  title: string;
  priority: TaskPriority;
  status: TaskStatus;
  ownerId: string;
  teamId: string | null;
  dueAt: string;
  snoozedUntil: string | null;
  escalationLevel: number;
  process: string;
  workflowId: string;
  customerId: string | null;
  leadId: string | null;
  outcome: string | null;
  closedBy: string | null;
  closedAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface TaskEvent {
  kind: TaskEventKind;
  actor: string;
  at: string;
  fromOwner: string | null;
  toOwner: string | null;
  dueAt: string | null;
  snoozedUntil: string | null;
  outcome: string | null;
  reason: string | null;
  workflowId: string | null;
}

interface TaskRow {
  id: string;
  kind: TaskKind;
  title: string;
  priority: TaskPriority;
  status: TaskStatus;
  owner_id: string;
  team_id: string | null;
  due_at: Date;
  snoozed_until: Date | null;
  escalation_level: number;
  process: string;
  workflow_id: string;
  customer_id: string | null;
  lead_id: string | null;
  outcome: string | null;
  closed_by: string | null;
  closed_at: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, kind, title, priority, status, owner_id, team_id, due_at, snoozed_until, escalation_level, process, workflow_id, customer_id, lead_id, outcome, closed_by, closed_at, version, created_at, updated_at';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const toTask = (r: TaskRow): Task => ({
  id: r.id,
  kind: r.kind,
  title: r.title,
  priority: r.priority,
  status: r.status,
  ownerId: r.owner_id,
  teamId: r.team_id,
  dueAt: r.due_at.toISOString(),
  snoozedUntil: iso(r.snoozed_until),
  escalationLevel: r.escalation_level,
  process: r.process,
  workflowId: r.workflow_id,
  customerId: r.customer_id,
  leadId: r.lead_id,
  outcome: r.outcome,
  closedBy: r.closed_by,
  closedAt: iso(r.closed_at),
  version: r.version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** The task as its workflow keeps it. */
export const openedTask = (t: Task, messageId?: string): OpenedTask => ({
  taskId: t.id,
  kind: t.kind,
  ownerId: t.ownerId,
  teamId: t.teamId,
  dueAt: t.dueAt,
  ...(t.snoozedUntil ? { snoozedUntil: t.snoozedUntil } : {}),
  escalationLevel: t.escalationLevel,
  status: t.status,
  ...(messageId ? { messageId } : {}),
});

/** An active user by an id that may be anything (owners of processes started before users were ids are e-mail addresses). */
export async function activeUser(db: Db, id: string | undefined): Promise<User | undefined> {
  return id && UUID.test(id) ? readActiveUser(db, id) : undefined;
}

/**
 * Who approves a change of `requesterId` (four-eyes): their team lead when that lead may approve,
 * else the active backoffice user (or admin) other than the requester with the fewest open tasks.
 */
export async function approverFor(db: Db, requesterId: string): Promise<string | undefined> {
  const lead = UUID.test(requesterId) ? await escalationTarget(db, requesterId) : undefined;
  if (lead && lead.roles.some((r) => r === 'backoffice' || r === 'admin')) return lead.id;
  const { rows } = await db.query<{ id: string }>(
    `SELECT u.id FROM users u
      WHERE u.active AND u.roles && ARRAY['backoffice', 'admin']::text[] AND u.id::text <> $1
      ORDER BY (SELECT count(*) FROM tasks t WHERE t.owner_id = u.id AND t.status = 'open'), 'backoffice' = ANY (u.roles) DESC, u.created_at, u.id
      LIMIT 1`,
    [requesterId],
  );
  return rows[0]?.id;
}

export async function readTask(db: Db, id: string, lock = false): Promise<Task | undefined> {
  const { rows } = await db.query<TaskRow>(`SELECT ${COLUMNS} FROM tasks WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] && toTask(rows[0]);
}

export async function readTaskEvents(db: Db, id: string): Promise<TaskEvent[]> {
  const { rows } = await db.query<{
    kind: TaskEventKind;
    actor: string;
    occurred_at: Date;
    from_owner: string | null;
    to_owner: string | null;
    due_at: Date | null;
    snoozed_until: Date | null;
    outcome: string | null;
    reason: string | null;
    workflow_id: string | null;
  }>(
    `SELECT kind, actor, occurred_at, from_owner, to_owner, due_at, snoozed_until, outcome, reason, workflow_id
       FROM task_events WHERE task_id = $1 ORDER BY id`,
    [id],
  );
  return rows.map((r) => ({
    kind: r.kind,
    actor: r.actor,
    at: r.occurred_at.toISOString(),
    fromOwner: r.from_owner,
    toOwner: r.to_owner,
    dueAt: iso(r.due_at),
    snoozedUntil: iso(r.snoozed_until),
    outcome: r.outcome,
    reason: r.reason,
    workflowId: r.workflow_id,
  }));
}

interface EventWrite {
  kind: TaskEventKind;
  actor: string;
  key: string;
  fromOwner?: string;
  toOwner?: string;
  dueAt?: string;
  snoozedUntil?: string;
  outcome?: string;
  reason?: string;
  workflowId: string;
}

/** Writes a timeline entry and its audit row; false when the step had written it already. */
async function recordStep(db: PoolClient, task: Task, e: EventWrite, audit: Array<{ field: string; oldValue: unknown; newValue: unknown }>): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO task_events (task_id, kind, actor, from_owner, to_owner, due_at, snoozed_until, outcome, reason, workflow_id, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (idempotency_key) DO NOTHING`,
    [
      task.id,
      e.kind,
      e.actor,
      e.fromOwner ?? null,
      e.toOwner ?? null,
      e.dueAt ?? null,
      e.snoozedUntil ?? null,
      e.outcome ?? null,
      e.reason ?? null,
      e.workflowId,
      e.key,
    ],
  );
  // Found by the task's workflow id: a task's steps are no change of the customer's or lead's own fields, so their trails stay as they were.
  await writeAudit(db, { step: e.key, actor: e.actor, process: task.process as CrmProcess, workflowId: taskWorkflowId(task.id) }, audit);
  return (rowCount ?? 0) > 0;
}

/**
 * Opens a task for its owner once per key (the process's workflow id and step); undefined when
 * the owner is not an active user, so the process keeps to what it did before tasks.
 */
export async function insertTask(
  db: PoolClient,
  input: TaskSpec & { taskId: string; workflowId: string; actor: string },
): Promise<{ task: Task; owner: User; created: boolean } | undefined> {
  const key = `${input.workflowId}:${input.step}`;
  const existing = await db.query<TaskRow>(`SELECT ${COLUMNS} FROM tasks WHERE idempotency_key = $1`, [key]);
  if (existing.rows[0]) {
    const task = toTask(existing.rows[0]);
    return { task, owner: (await readUser(db, task.ownerId))!, created: false };
  }
  const owner = await activeUser(db, input.ownerId);
  if (!owner) return undefined;
  const { rows } = await db.query<TaskRow>(
    `INSERT INTO tasks (id, idempotency_key, kind, title, priority, owner_id, team_id, due_at, process, workflow_id, customer_id, lead_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($13::timestamptz, now()) + $8 * interval '1 millisecond', $9, $10, $11, $12)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${COLUMNS}`,
    [
      input.taskId,
      key,
      input.kind,
      input.title,
      input.priority ?? 'normal',
      owner.id,
      owner.teamId,
      input.dueInMs,
      input.process,
      input.workflowId,
      input.customerId ?? null,
      input.leadId ?? null,
      input.now ?? null,
    ],
  );
  const task = toTask(rows[0]!);
  await recordStep(db, task, { kind: 'opened', actor: input.actor, key: `${key}:opened`, toOwner: owner.id, dueAt: task.dueAt, workflowId: input.workflowId }, [
    { field: 'task.status', oldValue: null, newValue: { taskId: task.id, kind: task.kind, status: 'open', ownerId: owner.id, dueAt: task.dueAt } },
  ]);
  return { task, owner, created: true };
}

/** Completes or cancels an open task; a closed one is left as it is (the answer says how it ended). */
export async function closeTask(
  db: PoolClient,
  input: { taskId: string; status: 'done' | 'cancelled'; outcome: string; actor: string; key: string },
): Promise<Task | undefined> {
  const task = await readTask(db, input.taskId, true);
  if (!task || task.status !== 'open') return task;
  const { rows } = await db.query<TaskRow>(
    `UPDATE tasks SET status = $2, outcome = $3, closed_by = $4, closed_at = now(), version = version + 1, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [task.id, input.status, input.outcome, input.actor],
  );
  const closed = toTask(rows[0]!);
  await recordStep(
    db,
    closed,
    {
      kind: input.status === 'done' ? 'completed' : 'cancelled',
      actor: input.actor,
      key: input.key,
      outcome: input.outcome,
      workflowId: taskWorkflowId(task.id),
    },
    [{ field: 'task.status', oldValue: 'open', newValue: { taskId: task.id, status: input.status, outcome: input.outcome } }],
  );
  if (input.status === 'done') {
    await recordEvent(db, {
      type: 'task.completed',
      customerId: task.customerId,
      ...(task.customerId ? {} : { subject: task.leadId ? `lead:${task.leadId}` : `task:${task.id}` }),
      data: { taskId: task.id, kind: task.kind, customerId: task.customerId, leadId: task.leadId, completedBy: input.actor },
      idempotencyKey: `task.completed:${task.id}`,
    });
  }
  return closed;
}

export async function snoozeTask(db: PoolClient, input: { taskId: string; until: string; actor: string; key: string }): Promise<Task | undefined> {
  const task = await readTask(db, input.taskId, true);
  if (!task || task.status !== 'open') return task;
  if (await stepDone(db, input.key)) return task;
  const { rows } = await db.query<TaskRow>(
    `UPDATE tasks SET snoozed_until = $2, version = version + 1, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [task.id, input.until],
  );
  const snoozed = toTask(rows[0]!);
  await recordStep(
    db,
    snoozed,
    { kind: 'snoozed', actor: input.actor, key: input.key, snoozedUntil: snoozed.snoozedUntil!, workflowId: taskWorkflowId(task.id) },
    [{ field: 'task.snoozedUntil', oldValue: task.snoozedUntil, newValue: snoozed.snoozedUntil }],
  );
  return snoozed;
}

async function stepDone(db: PoolClient, key: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM task_events WHERE idempotency_key = $1', [key]);
  return (rowCount ?? 0) > 0;
}

/** Hands the task to another owner (who becomes responsible in their team). */
async function handOver(db: PoolClient, task: Task, to: User, e: Omit<EventWrite, 'fromOwner' | 'toOwner' | 'workflowId'>, dueAt?: string): Promise<Task> {
  const { rows } = await db.query<TaskRow>(
    `UPDATE tasks SET owner_id = $2, team_id = $3, due_at = COALESCE($4::timestamptz, due_at),
            escalation_level = escalation_level + $5, version = version + 1, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [task.id, to.id, to.teamId, dueAt ?? null, e.kind === 'escalated' ? 1 : 0],
  );
  const moved = toTask(rows[0]!);
  await recordStep(db, moved, { ...e, fromOwner: task.ownerId, toOwner: to.id, dueAt: moved.dueAt, workflowId: taskWorkflowId(task.id) }, [
    { field: 'task.owner', oldValue: task.ownerId, newValue: to.id },
  ]);
  return moved;
}

export type ReassignOutcome = { task: Task; owner: User } | { refused: string; status: 400 | 404 | 409 };

/** Reassigns an open task to an active user; a refusal names why. */
export async function reassignTask(
  db: PoolClient,
  input: { taskId: string; ownerId: string; actor: string; reason?: string; key: string },
): Promise<ReassignOutcome> {
  const task = await readTask(db, input.taskId, true);
  if (!task) return { refused: `no task ${input.taskId}`, status: 404 };
  const owner = await readUser(db, input.ownerId);
  if (await stepDone(db, input.key)) return { task, owner: owner! };
  if (task.status !== 'open') return { refused: `the task is ${task.status}`, status: 409 };
  if (!owner) return { refused: `no user ${input.ownerId}`, status: 400 };
  if (!owner.active) return { refused: `user ${input.ownerId} is not active`, status: 409 };
  if (owner.id === task.ownerId) return { refused: `the task already belongs to ${owner.id}`, status: 409 };
  return { task: await handOver(db, task, owner, { kind: 'reassigned', actor: input.actor, key: input.key, reason: input.reason }), owner };
}

/**
 * An overdue task goes up the team: to the owner's team lead when there is one above them, else it
 * stays where it is; either way it gets a new due date, so it is raised again if it stays undone.
 * `level` is the escalation this step makes: a retried step finds the task at that level. `dueAt` comes
 * from the task's workflow (its time).
 */
export async function escalateTask(
  db: PoolClient,
  input: { taskId: string; level: number; dueAt: string; key: string },
): Promise<{ task: Task; owner: User; escalated: boolean } | undefined> {
  const task = await readTask(db, input.taskId, true);
  if (!task) return undefined;
  if (task.status !== 'open' || task.escalationLevel >= input.level) return { task, owner: (await readUser(db, task.ownerId))!, escalated: false };
  const dueAt = input.dueAt;
  const target = await escalationTarget(db, task.ownerId);
  const reason = target ? `overdue since ${task.dueAt}: escalated to the team lead` : `overdue since ${task.dueAt}: nobody above the owner, raised again`;
  const to = target ?? (await readUser(db, task.ownerId))!;
  return { task: await handOver(db, task, to, { kind: 'escalated', actor: 'system', key: input.key, reason }, dueAt), owner: to, escalated: true };
}

export interface TaskFilter {
  view?: TaskView;
  /** The user asking: who `mine` is, whose team `team` is, whose day `due-today` is. */
  me?: { id: string; teamId: string | null; timeZone: string };
  ownerId?: string;
  teamId?: string;
  kind?: TaskKind;
  status?: TaskStatus | 'snoozed';
  customerId?: string;
  leadId?: string;
}

/** A page of tasks by due date (earliest first), after `position`. */
export async function listTasks(db: Db, filter: TaskFilter, position: Position | undefined, limit: number): Promise<{ items: Task[]; next?: Position }> {
  const order: SortOrder = { expression: 'due_at', cast: 'timestamptz', direction: 'asc' };
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  const status = filter.status ?? (filter.view ? 'open' : undefined);
  if (status === 'snoozed') where.push(`status = 'open' AND snoozed_until > now()`);
  else if (status) add((p) => `status = ${p}`, status);
  if (filter.view === 'mine') add((p) => `owner_id = ${p}`, filter.me!.id);
  if (filter.view === 'team') add((p) => `team_id = ${p}`, filter.me!.teamId);
  if (filter.view === 'overdue') where.push(`due_at < now() AND (snoozed_until IS NULL OR snoozed_until <= now())`);
  if (filter.view === 'due-today') {
    add((p) => `due_at >= (date_trunc('day', now() AT TIME ZONE ${p}) AT TIME ZONE ${p})`, filter.me?.timeZone ?? 'UTC');
    add((p) => `due_at < ((date_trunc('day', now() AT TIME ZONE ${p}) + interval '1 day') AT TIME ZONE ${p})`, filter.me?.timeZone ?? 'UTC');
  }
  if (filter.ownerId) add((p) => `owner_id = ${p}`, filter.ownerId);
  if (filter.teamId) add((p) => `team_id = ${p}`, filter.teamId);
  if (filter.kind) add((p) => `kind = ${p}`, filter.kind);
  if (filter.customerId) add((p) => `customer_id = ${p}`, filter.customerId);
  if (filter.leadId) add((p) => `lead_id = ${p}`, filter.leadId);
  if (position) where.push(after(order, position, params));
  params.push(limit + 1);
  const { rows } = await db.query<TaskRow & { sort_value: string }>(
    `SELECT ${COLUMNS}, due_at::text AS sort_value FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${orderBy(order)} LIMIT $${params.length}`,
    params,
  );
  const page = pageOf(rows, limit);
  return { items: page.rows.map(toTask), ...(page.next ? { next: page.next } : {}) };
}
