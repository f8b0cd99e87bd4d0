/**
 * Tasks: the work processes hand to people. Lists and reads come from the record (`tasks`,
 * `task_events`); complete, snooze and reassign are Updates of the task's workflow
 * (`task-<id>`), which writes the record before it answers and, on completion, moves the process
 * that made the task.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { listTasks, readTask, readTaskEvents, type Task, type TaskFilter } from '../../db/repositories/tasks.js';
import { readUser, type User } from '../../db/repositories/users.js';
import {
  TASK_EVENT_KINDS,
  TASK_KINDS,
  TASK_PRIORITIES,
  TASK_STATUSES,
  TASK_VIEWS,
  completeTaskBody,
  completeTaskUpdate,
  reassignTaskBody,
  reassignTaskUpdate,
  snoozeTaskBody,
  snoozeTaskUpdate,
  taskWorkflowId,
} from '../../domain/tasks.js';
import { uuidSchema } from '../../domain/formats.js';
import type { taskWorkflow } from '../../../workflows/tasks.js';
import { operational } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv, type Principal } from '../env.js';
import { listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { ApiError } from '../problem.js';
import { uuidParam } from '../schemas.js';
import { temporalCall } from '../temporal-errors.js';

const taskSchema = z
  .object({
    id: z.string(),
    kind: z.enum(TASK_KINDS),
    title: z.string(),
    priority: z.enum(TASK_PRIORITIES),
    status: z.enum(TASK_STATUSES),
    ownerId: z.string().openapi({ description: 'The user who has the task' }),
    teamId: z.string().nullable(),
    dueAt: z.string(),
    snoozedUntil: z.string().nullable().openapi({ description: 'While in the future, the task is neither overdue nor escalated' }),
    overdue: z.boolean().openapi({ description: 'Open, past its due date and not snoozed' }),
    escalationLevel: z.number().int().openapi({ description: 'How often it was overdue and went up the team' }),
    process: z.string().openapi({ description: 'The process that made it and waits on it' }),
    workflowId: z.string().openapi({ description: 'That process’s workflow; the task’s own is task-<id>' }),
    customerId: z.string().nullable(),
    leadId: z.string().nullable(),
    outcome: z.string().nullable(),
    closedBy: z.string().nullable(),
    closedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Task');

const taskEventSchema = z.object({
  kind: z.enum(TASK_EVENT_KINDS),
  actor: z.string(),
  at: z.string(),
  fromOwner: z.string().nullable(),
  toOwner: z.string().nullable(),
  dueAt: z.string().nullable(),
  snoozedUntil: z.string().nullable(),
  outcome: z.string().nullable(),
  reason: z.string().nullable(),
  workflowId: z.string().nullable(),
});

const taskDetailSchema = taskSchema
  .extend({ timeline: z.array(taskEventSchema).openapi({ description: 'What happened to the task, oldest first' }) })
  .openapi('TaskDetail');

const listQuery = z
  .object({
    view: z.enum(TASK_VIEWS).optional().openapi({
      description:
        '`mine`: the caller’s tasks; `team`: their team’s; `overdue`: past due and not snoozed; `due-today`: due today in the caller’s time zone. Each shows open tasks unless `status` says otherwise',
    }),
    ownerId: uuidSchema('must be a user id (UUID)').optional(),
    teamId: uuidSchema('must be a team id (UUID)').optional(),
    kind: z.enum(TASK_KINDS).optional(),
    status: z
      .enum([...TASK_STATUSES, 'snoozed'])
      .optional()
      .openapi({ description: '`snoozed`: open and snoozed until a time to come' }),
    customerId: uuidSchema('must be a customer id (UUID)').optional(),
    leadId: uuidSchema('must be a lead id (UUID)').optional(),
    pageSize: pageSizeSchema,
    pageToken: pageTokenSchema.optional(),
  })
  .strict();

const taskIdParam = uuidParam('a task');

const listRoute = createRoute({
  method: 'get',
  path: '/v1/tasks',
  operationId: 'listTasks',
  tags: ['tasks'],
  summary: 'List tasks: mine, my team’s, overdue, due today; by kind, status, customer or lead',
  description: 'Earliest due first, in keyset pages. `team` needs a caller who is in a team (400 otherwise).',
  middleware: [operational] as const,
  request: { query: listQuery },
  responses: {
    200: jsonContent(z.object({ items: z.array(taskSchema), nextPageToken: z.string().optional() }).openapi('TaskPage'), 'A page of tasks'),
    ...problemResponses(400, 401, 403),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/tasks/{id}',
  operationId: 'getTask',
  tags: ['tasks'],
  summary: 'A task with its timeline',
  middleware: [operational] as const,
  request: { params: taskIdParam },
  responses: { 200: jsonContent(taskDetailSchema, 'The task'), ...problemResponses(400, 401, 403, 404) },
});

const commandResponses = {
  200: jsonContent(taskDetailSchema, 'The task as it is now'),
  ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
};

const completeRoute = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/complete',
  operationId: 'completeTask',
  tags: ['tasks'],
  summary: 'Complete a task with its outcome; the process that made it moves on',
  description:
    'A task already done or cancelled is a 409; so is a `change-approval` task, which the decision on the change completes (POST /v1/changes/{id}/approval).',
  middleware: [operational] as const,
  request: { params: taskIdParam, body: jsonBody(completeTaskBody.openapi('CompleteTaskRequest'), { outcome: 'called, interested in a demo' }) },
  responses: commandResponses,
});

const snoozeRoute = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/snooze',
  operationId: 'snoozeTask',
  tags: ['tasks'],
  summary: 'Snooze an open task until a time: not overdue, not escalated until then',
  description: '`until` must be in the future (400).',
  middleware: [operational] as const,
  request: { params: taskIdParam, body: jsonBody(snoozeTaskBody.openapi('SnoozeTaskRequest'), { until: '2030-01-15T09:00:00Z' }) },
  responses: commandResponses,
});

const reassignRoute = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/reassign',
  operationId: 'reassignTask',
  tags: ['tasks'],
  summary: 'Hand an open task to another active user',
  description: 'An unknown user is a 400 naming `body.ownerId`; an inactive user, or the task’s own owner, a 409.',
  middleware: [operational] as const,
  request: {
    params: taskIdParam,
    body: jsonBody(reassignTaskBody.openapi('ReassignTaskRequest'), { ownerId: '0190a5b2-7c1e-7a3b-9c4d-5e6f7a8b9c0d', reason: 'on holiday' }),
  },
  responses: commandResponses,
});

const view = (t: Task) => {
  const now = Date.now();
  const { version: _version, ...rest } = t;
  return { ...rest, overdue: t.status === 'open' && Date.parse(t.dueAt) < now && !(t.snoozedUntil && Date.parse(t.snoozedUntil) > now) };
};

async function detail(deps: ApiDeps, id: string) {
  const task = await readTask(deps.pool, id);
  if (!task) throw new ApiError(404, `No task ${id}`);
  return { ...view(task), timeline: await readTaskEvents(deps.pool, id) };
}

/** The user the key belongs to, as the database has them now (their team and time zone). */
async function userOf(deps: ApiDeps, principal: Principal): Promise<User | undefined> {
  return readUser(deps.pool, principal.userId);
}

const viewProblem = (message: string) =>
  new ApiError(400, `Invalid request: query.view: ${message}`, { errors: [{ path: 'query.view', message, code: 'custom' }] });

/** An open task or the reason it cannot be changed: 404 unknown, 409 closed. */
async function openTaskOf(deps: ApiDeps, id: string): Promise<Task> {
  const task = await readTask(deps.pool, id);
  if (!task) throw new ApiError(404, `No task ${id}`);
  if (task.status !== 'open') throw new ApiError(409, `The task is ${task.status}${task.outcome ? ` (${task.outcome})` : ''}`);
  return task;
}

export function taskRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const tokens = pageTokens(deps.pageTokenSecret);
  const waitMs = resultWaitMs(deps);
  const handle = (id: string) => deps.temporal.workflow.getHandle<typeof taskWorkflow>(taskWorkflowId(id));
  const GONE = 'The task’s workflow has ended; the task can no longer change';
  /** An Update of the task's workflow; an open task whose workflow is not running yet (its process is starting it) is a 503 to retry. */
  const update = async (id: string, call: () => Promise<unknown>) => {
    try {
      await temporalCall(call, waitMs, { gone: GONE });
    } catch (err) {
      if (err instanceof ApiError && err.detail === GONE && (await readTask(deps.pool, id))?.status === 'open') {
        throw new ApiError(503, 'The task’s workflow is not running yet; try again in a moment', {}, { 'Retry-After': '1' });
      }
      throw err;
    }
  };

  app.openapi(listRoute, async (c) => {
    const { pageSize, pageToken, ...query } = c.req.valid('query');
    const filter: TaskFilter = { ...query };
    if (query.view) {
      const me = await userOf(deps, c.get('principal'));
      if (!me) throw viewProblem('the caller is no user');
      if (me && !me.teamId && query.view === 'team') throw viewProblem('team needs a user who is in a team');
      if (me) filter.me = { id: me.id, teamId: me.teamId, timeZone: me.timeZone };
    }
    const listing = listingOf('tasks', { ...query, me: filter.me?.id });
    const page = await listTasks(deps.pool, filter, pageToken === undefined ? undefined : tokens.open(pageToken, listing), pageSize);
    return c.json({ items: page.items.map(view), ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getRoute, async (c) => c.json(await detail(deps, c.req.valid('param').id), 200));

  app.openapi(completeRoute, async (c) => {
    const { id } = c.req.valid('param');
    const task = await openTaskOf(deps, id);
    // The task of a four-eyes approval is done by the decision itself, which names approve or reject.
    if (task.kind === 'change-approval')
      throw new ApiError(409, `An approval task is completed by deciding the change: POST /v1/changes/{id}/approval (${task.title})`);
    c.set('workflowId', taskWorkflowId(id));
    const { outcome } = c.req.valid('json');
    await update(id, () => handle(id).executeUpdate(completeTaskUpdate, { args: [{ outcome, actor: c.get('principal').actor }] }));
    return c.json(await detail(deps, id), 200);
  });

  app.openapi(snoozeRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { until } = c.req.valid('json');
    if (Date.parse(until) <= Date.now()) {
      throw new ApiError(400, 'Invalid request: body.until: must be in the future', {
        errors: [{ path: 'body.until', message: 'must be in the future', code: 'custom' }],
      });
    }
    await openTaskOf(deps, id);
    c.set('workflowId', taskWorkflowId(id));
    await update(id, () => handle(id).executeUpdate(snoozeTaskUpdate, { args: [{ until, actor: c.get('principal').actor }] }));
    return c.json(await detail(deps, id), 200);
  });

  app.openapi(reassignRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { ownerId, reason } = c.req.valid('json');
    const task = await openTaskOf(deps, id);
    const owner = await readUser(deps.pool, ownerId);
    if (!owner) {
      throw new ApiError(400, `Invalid request: body.ownerId: no user ${ownerId}`, {
        errors: [{ path: 'body.ownerId', message: `no user ${ownerId}`, code: 'custom' }],
      });
    }
    if (!owner.active) throw new ApiError(409, `User ${ownerId} is not active; a task goes to an active user`);
    if (owner.id === task.ownerId) throw new ApiError(409, `The task already belongs to ${ownerId}`);
    c.set('workflowId', taskWorkflowId(id));
    await update(id, () => handle(id).executeUpdate(reassignTaskUpdate, { args: [{ ownerId, reason, actor: c.get('principal').actor }] }));
    return c.json(await detail(deps, id), 200);
  });

  return app;
}
