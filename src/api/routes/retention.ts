/**
 * Retention campaigns: a campaign is a stored definition plus the Temporal Schedule
 * `campaign-<id>` that fires its runs. Pausing pauses the Schedule, a manual run triggers it, and
 * an enrollment's record (its log in PostgreSQL) answers why a customer got a message. Customer events start the
 * short `recordCustomerEvent` workflow, which tells the customer's enrollments.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { defaultConfig } from '../../config.js';
import { inTransaction } from '../../db/pool.js';
import {
  campaignPatchSchema,
  campaignRequestSchema,
  campaignRunWorkflowId,
  campaignScheduleId,
  customerEventRequestSchema,
  customerEventWorkflowId,
  FINAL_ENROLLMENT_STATUSES,
  enrollmentStateQuery,
  parseDuration,
  timeZoneSchema,
  type CampaignRunInput,
  type CustomerEventInput,
} from '../../domain/retention.js';
import { CrmCampaignId, CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import type { recordCustomerEvent } from '../../../workflows/retention.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { idempotencyKeySchema, newKey, requestHash, resultWithin, startOnce } from '../idempotency.js';
import { uuidFromKey } from './offers.js';
import { ApiError } from '../problem.js';
import { campaignActivity, insertCampaign, listCampaigns as listCampaignRows, readCampaign as readCampaignRow, readEnrollment, setCampaignStatus, type CampaignRow } from '../../db/repositories/campaigns.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { liveParamSchema, liveState, withLive } from '../live.js';
import { uuidSchema } from '../../domain/formats.js';

const OPERATIONAL = ['agent', 'backoffice', 'admin'] as const;
/** How long a read waits for a live detail from Temporal before it answers with the record alone. */
const LIVE_WAIT_MS = 1_000;
const CAMPAIGN_WRITERS = ['backoffice', 'admin'] as const;

const runSchema = z.object({
  runKey: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  pages: z.number().int(),
  selected: z.number().int(),
  enrolled: z.number().int(),
  skipped: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});

const campaignSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status: z.enum(['active', 'paused']),
    definition: z.record(z.string(), z.unknown()),
    scheduleId: z.string(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    schedule: z
      .object({
        paused: z.boolean(),
        note: z.string().optional(),
        nextActionTimes: z.array(z.string()),
        recentActions: z.array(z.object({ scheduledAt: z.string(), takenAt: z.string(), workflowId: z.string() })),
        numActionsTaken: z.number().int(),
      })
      .nullable(),
    runs: z.array(runSchema),
    enrollments: z.record(z.string(), z.number().int()),
  })
  .openapi('Campaign');

const campaignParam = z.object({ id: uuidSchema('must be a campaign id (UUID)').openapi({ param: { name: 'id', in: 'path' } }) });

const createCampaign = createRoute({
  method: 'post',
  path: '/v1/campaigns',
  operationId: 'createCampaign',
  tags: ['retention'],
  summary: 'Create a scheduled retention campaign',
  description:
    'Validates the definition and creates the Temporal Schedule `campaign-<id>` (cron or interval, in an IANA time zone). Each firing starts a ' +
    '`campaignRun` that enrolls the segment; each enrollment (`campaign-<id>-<customerId>`) walks the steps, keeping suppressions, quiet hours ' +
    'in the customer\'s time zone and the weekly message cap across all campaigns, and ends when the goal is met.',
  middleware: [requireRole(...CAMPAIGN_WRITERS)] as const,
  request: {
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(campaignRequestSchema.openapi('CampaignRequest'), {
      name: 'Win back quiet customers',
      segment: { daysSinceLastContact: { min: 90 }, countries: ['DE', 'AT'] },
      schedule: { cron: '0 9 * * MON', timezone: 'Europe/Berlin' },
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-winback' },
        { type: 'wait', duration: '7 days' },
      ],
      goal: { type: 'customer-event', event: 'login' },
      quietHours: { start: '20:00', end: '08:00' },
    }),
  },
  responses: { 201: jsonContent(campaignSchema, 'Created and scheduled (or the campaign this Idempotency-Key created)'), ...problemResponses(400, 401, 403, 413, 415, 422) },
});

const listCampaigns = createRoute({
  method: 'get',
  path: '/v1/campaigns',
  operationId: 'listCampaigns',
  tags: ['retention'],
  summary: 'Campaigns, newest first',
  middleware: [requireRole(...OPERATIONAL)] as const,
  responses: {
    200: jsonContent(z.object({ campaigns: z.array(z.object({ id: z.string(), name: z.string(), status: z.string(), createdAt: z.string() })) }), 'Campaigns'),
    ...problemResponses(401, 403),
  },
});

const getCampaign = createRoute({
  method: 'get',
  path: '/v1/campaigns/{id}',
  operationId: 'getCampaign',
  tags: ['retention'],
  summary: 'A campaign: its definition, recent runs and enrollments by status, and its schedule',
  description: 'Definition, runs and enrollments come from PostgreSQL; `schedule` is the live view of the Temporal Schedule, null when Temporal does not answer within a second.',
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: { params: campaignParam },
  responses: { 200: jsonContent(campaignSchema, 'The campaign'), ...problemResponses(400, 401, 403, 404) },
});

const patchCampaign = createRoute({
  method: 'patch',
  path: '/v1/campaigns/{id}',
  operationId: 'updateCampaign',
  tags: ['retention'],
  summary: 'Pause or resume a campaign (its Schedule)',
  middleware: [requireRole(...CAMPAIGN_WRITERS)] as const,
  request: { params: campaignParam, body: jsonBody(campaignPatchSchema.openapi('CampaignPatch'), { status: 'paused', note: 'Paused over the holidays' }) },
  responses: { 200: jsonContent(campaignSchema, 'The campaign'), ...problemResponses(400, 401, 403, 404, 413, 415) },
});

const triggerRun = createRoute({
  method: 'post',
  path: '/v1/campaigns/{id}/runs',
  operationId: 'runCampaign',
  tags: ['retention'],
  summary: 'Run the campaign now (triggers its Schedule)',
  description: 'A run of a paused campaign records itself as skipped. A run while another is still enrolling waits for it (buffer one).',
  middleware: [requireRole(...CAMPAIGN_WRITERS)] as const,
  request: { params: campaignParam },
  responses: {
    202: jsonContent(z.object({ campaignId: z.string(), scheduleId: z.string(), triggeredAt: z.string(), runsUrl: z.string() }), 'Triggered'),
    ...problemResponses(400, 401, 403, 404),
  },
});

const getEnrollment = createRoute({
  method: 'get',
  path: '/v1/campaigns/{id}/enrollments/{customerId}',
  operationId: 'getEnrollment',
  tags: ['retention'],
  summary: "Why did this customer get this message? The enrollment's state and its history",
  description:
    'From PostgreSQL: the latest enrollment\'s state and log (every step taken or held back, with its reason), as its workflow showed it, and every earlier enrollment. ' +
    '`?live=true` adds the running workflow\'s own state, present only when it answered within a second.',
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: {
    params: campaignParam.extend({ customerId: uuidSchema('must be a customer id (UUID)').openapi({ param: { name: 'customerId', in: 'path' } }) }),
    query: z.object({ live: liveParamSchema }).strict(),
  },
  responses: {
    200: jsonContent(
      z.object({
        workflowId: z.string(),
        state: z.record(z.string(), z.unknown()),
        live: z.object({ at: z.string(), state: z.record(z.string(), z.unknown()) }).optional(),
        enrollments: z.array(z.object({ runKey: z.string(), status: z.string(), endReason: z.string().nullable(), enrolledAt: z.string(), endedAt: z.string().nullable() })),
      }),
      'The enrollment',
    ),
    ...problemResponses(400, 401, 403, 404),
  },
});

const postEvent = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/events',
  operationId: 'recordCustomerEvent',
  tags: ['retention'],
  summary: 'Record a customer event: purchase, login, complaint, opt-out, cancellation request',
  description:
    'Starts `recordCustomerEvent`: the event is stored; an opt-out or complaint suppresses promotional contact; a purchase of a product adds it to the ' +
    "customer's products. The customer's running enrollments are told at once: a goal event ends them as goal-met, an opt-out or complaint ends them.",
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: {
    params: z.object({ id: uuidSchema('must be a customer id (UUID)').openapi({ param: { name: 'id', in: 'path' } }) }),
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(customerEventRequestSchema.openapi('CustomerEventRequest'), { type: 'login', channel: 'email' }),
  },
  responses: {
    201: jsonContent(
      z.object({
        eventId: z.string(),
        customerId: z.string(),
        type: z.string(),
        occurredAt: z.string(),
        suppression: z.string().nullable(),
        notifiedEnrollments: z.array(z.string()),
      }),
      'Recorded',
    ),
    202: jsonContent(z.object({ status: z.literal('pending'), workflowId: z.string() }), 'Accepted, still recording'),
    ...problemResponses(400, 401, 403, 404, 413, 415, 422),
  },
});

const retentionProfileSchema = z
  .object({
    churnRisk: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').nullable().optional(),
    timezone: timeZoneSchema.nullable().optional(),
  })
  .strict()
  .refine((p) => p.churnRisk !== undefined || p.timezone !== undefined, 'give churnRisk, timezone or both')
  .openapi({ minProperties: 1 });

const patchProfile = createRoute({
  method: 'patch',
  path: '/v1/customers/{id}/retention-profile',
  operationId: 'updateRetentionProfile',
  tags: ['retention'],
  summary: "Set a customer's churn-risk score (from a scoring job or an agent's judgement) and the time zone quiet hours are kept in",
  description: 'Both are audited. null clears a value: an unscored customer is never at churn risk; without a time zone the campaign\'s applies.',
  middleware: [requireRole(...CAMPAIGN_WRITERS)] as const,
  request: {
    params: z.object({ id: uuidSchema('must be a customer id (UUID)').openapi({ param: { name: 'id', in: 'path' } }) }),
    body: jsonBody(retentionProfileSchema.openapi('RetentionProfile'), { churnRisk: 0.35, timezone: 'Europe/Berlin' }),
  },
  responses: {
    200: jsonContent(z.object({ customerId: z.string(), churnRisk: z.number().nullable(), timezone: z.string().nullable() }), 'The profile after the change'),
    ...problemResponses(400, 401, 403, 404, 413, 415),
  },
});

function scheduleView(d: ScheduleDescription | undefined) {
  if (!d) return null;
  return {
    paused: d.state.paused,
    note: d.state.note,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), takenAt: a.takenAt.toISOString(), workflowId: a.action.workflow.workflowId })),
    numActionsTaken: d.info.numActionsTaken,
  };
}

export function retentionRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const retention = deps.retention ?? defaultConfig().retention;

  const readCampaign = async (id: string) => {
    const row = await readCampaignRow(deps.pool, id);
    if (!row) throw new ApiError(404, `No campaign with id ${id}`);
    return row;
  };

  const view = async (row: CampaignRow) => {
    // The Schedule is a live detail: the campaign reads from its record when Temporal is away.
    const schedule = await resultWithin(
      deps.temporal.schedule
        .getHandle(campaignScheduleId(row.id))
        .describe()
        .catch(() => undefined),
      LIVE_WAIT_MS,
    );
    const { runs, enrollments } = await campaignActivity(deps.pool, row.id);
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      definition: row.definition as unknown as Record<string, unknown>,
      scheduleId: campaignScheduleId(row.id),
      createdBy: row.created_by,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
      schedule: scheduleView(schedule),
      runs,
      enrollments,
    };
  };

  app.openapi(createCampaign, async (c) => {
    const def = c.req.valid('json');
    const unknownProducts = await deps.pool.query<{ id: string }>(
      'SELECT x.id FROM unnest($1::text[]) AS x(id) LEFT JOIN products p ON p.id = x.id WHERE p.id IS NULL',
      [[...def.steps.flatMap((s) => (s.type === 'offer' ? [s.productId] : [])), ...(def.segment.ownsAnyOf ?? []), ...(def.segment.missingAllOf ?? [])]],
    );
    if (unknownProducts.rows.length) {
      const names = unknownProducts.rows.map((r) => r.id);
      throw new ApiError(400, `Invalid request: unknown products ${names.join(', ')}`, { errors: names.map((n) => ({ path: 'body', message: `no product ${n}`, code: 'custom' })) });
    }
    const scope = c.get('idempotency')?.scope;
    // A retried create must not schedule the campaign twice: the key's claim fixes the campaign id.
    const id = scope ? uuidFromKey(`campaign:${scope}`) : crypto.randomUUID();
    const principal = c.get('principal');
    const scheduleId = campaignScheduleId(id);
    const args: CampaignRunInput = { campaignId: id, pageSize: retention.pageSize, concurrency: retention.enrollConcurrency };
    // Row and Schedule together: the row commits only once the Schedule exists.
    const row = await inTransaction(deps.pool, async (db) => {
      const inserted = await insertCampaign(db, { id, definition: def, createdBy: principal.actor });
      if (!inserted) {
        const first = (await readCampaignRow(db, id))!;
        if (requestHash(first.definition) !== requestHash(def)) {
          throw new ApiError(422, 'This Idempotency-Key was already used with a different request body', { campaignId: id });
        }
        return first;
      }
      try {
        await deps.temporal.schedule.create({
          scheduleId,
          spec: {
            ...(def.schedule.cron ? { cronExpressions: [def.schedule.cron] } : { intervals: [{ every: parseDuration(def.schedule.interval!)! }] }),
            timezone: def.schedule.timezone,
          },
          action: {
            type: 'startWorkflow',
            workflowType: 'campaignRun',
            workflowId: campaignRunWorkflowId(id),
            taskQueue: deps.taskQueue,
            args: [args],
            typedSearchAttributes: [
              { key: CrmProcess, value: 'retention' },
              { key: CrmCampaignId, value: id },
              { key: CrmStatus, value: 'enrolling' },
            ],
            staticSummary: `Run of campaign "${def.name}"`,
          },
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
          memo: { campaignName: def.name, createdBy: principal.actor },
          typedSearchAttributes: [
            { key: CrmProcess, value: 'retention' },
            { key: CrmCampaignId, value: id },
          ],
          state: { note: `Created by ${principal.actor}` },
        });
      } catch (err) {
        // The server is the last judge of a cron expression or time zone; the client turns its INVALID_ARGUMENT into a TypeError.
        if (err instanceof TypeError || /invalid argument|INVALID_ARGUMENT/i.test((err as Error).message ?? '')) {
          throw new ApiError(400, `Invalid request: body.schedule: ${(err as Error).message}`, { errors: [{ path: 'body.schedule', message: (err as Error).message, code: 'custom' }] });
        }
        throw err;
      }
      return inserted;
    });
    return c.json(await view(row), 201, { Location: `/v1/campaigns/${id}` });
  });

  app.openapi(listCampaigns, async (c) => {
    return c.json({ campaigns: await listCampaignRows(deps.pool) }, 200);
  });

  app.openapi(getCampaign, async (c) => {
    const row = await readCampaign(c.req.valid('param').id);
    return c.json(await view(row), 200);
  });

  app.openapi(patchCampaign, async (c) => {
    const { id } = c.req.valid('param');
    const { status, note } = c.req.valid('json');
    await readCampaign(id);
    const actor = c.get('principal').actor;
    const handle = deps.temporal.schedule.getHandle(campaignScheduleId(id));
    // Schedule first: if it fails, the row still tells the truth about the campaign.
    if (status === 'paused') await handle.pause(note ?? `Paused by ${actor}`);
    else await handle.unpause(note ?? `Resumed by ${actor}`);
    return c.json(await view((await setCampaignStatus(deps.pool, id, status))!), 200);
  });

  app.openapi(triggerRun, async (c) => {
    const { id } = c.req.valid('param');
    await readCampaign(id);
    const scheduleId = campaignScheduleId(id);
    await deps.temporal.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.BUFFER_ONE);
    return c.json({ campaignId: id, scheduleId, triggeredAt: new Date().toISOString(), runsUrl: `/v1/campaigns/${id}` }, 202, { Location: `/v1/campaigns/${id}` });
  });

  app.openapi(getEnrollment, async (c) => {
    const { id, customerId } = c.req.valid('param');
    const found = await readEnrollment(deps.pool, id, customerId);
    if (!found) throw new ApiError(404, `Customer ${customerId} was never enrolled in campaign ${id}`);
    // While the enrollment runs, its workflow's own view is shown beside the record when asked for, as such.
    const ask = !FINAL_ENROLLMENT_STATUSES.includes(found.state.status) && (c.req.valid('query').live ?? false);
    const answer = await withLive(found, ask, () => liveState(deps.temporal, found.workflowId, enrollmentStateQuery));
    return c.json({ ...answer, state: answer.state as unknown as Record<string, unknown>, ...(answer.live ? { live: { at: answer.live.at, state: answer.live.state as unknown as Record<string, unknown> } } : {}) }, 200);
  });

  app.openapi(postEvent, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const occurredAt = body.occurredAt ? new Date(body.occurredAt) : new Date();
    if (occurredAt.getTime() > Date.now() + 5 * 60_000) {
      throw new ApiError(400, 'Invalid request: body.occurredAt: must not be in the future', { errors: [{ path: 'body.occurredAt', message: 'must not be in the future', code: 'custom' }] });
    }
    const customer = await deps.pool.query('SELECT 1 FROM customers WHERE id = $1', [customerId]);
    if (!customer.rows[0]) throw new ApiError(404, `No customer with id ${customerId}`);
    if (body.productId) {
      const product = await deps.pool.query('SELECT 1 FROM products WHERE id = $1', [body.productId]);
      if (!product.rows[0]) throw new ApiError(400, `Invalid request: body.productId: no product ${body.productId}`, { errors: [{ path: 'body.productId', message: `no product ${body.productId}`, code: 'custom' }] });
    }
    const workflowId = customerEventWorkflowId(`${customerId}-${c.get('idempotency')?.scope ?? newKey()}`);
    c.set('workflowId', workflowId);
    const input: CustomerEventInput = { eventId: crypto.randomUUID(), customerId, event: { ...body, occurredAt: occurredAt.toISOString() }, actor: c.get('principal').actor };
    const { handle } = await startOnce<typeof recordCustomerEvent>(
      deps.temporal,
      'recordCustomerEvent',
      {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: CrmCustomerId, value: customerId },
          { key: CrmProcess, value: 'retention' },
          { key: CrmStatus, value: body.type },
        ],
        staticSummary: `Customer event ${body.type}`,
      },
      c.get('idempotency'),
    );
    const result = await resultWithin(handle.result(), deps.resultWaitMs ?? 10_000);
    if (!result) return c.json({ status: 'pending' as const, workflowId }, 202);
    return c.json(result, 201);
  });

  app.openapi(patchProfile, async (c) => {
    const { id } = c.req.valid('param');
    const change = c.req.valid('json');
    const actor = c.get('principal').actor;
    const profile = await inTransaction(deps.pool, async (db) => {
      const { rows } = await db.query<{ churn_risk: string | null; timezone: string | null }>('SELECT churn_risk, timezone FROM customers WHERE id = $1 FOR UPDATE', [id]);
      const before = rows[0];
      if (!before) throw new ApiError(404, `No customer with id ${id}`);
      const after = {
        churn_risk: change.churnRisk === undefined ? before.churn_risk : change.churnRisk,
        timezone: change.timezone === undefined ? before.timezone : change.timezone,
      };
      await db.query('UPDATE customers SET churn_risk = $2, timezone = $3, updated_at = now() WHERE id = $1', [id, after.churn_risk, after.timezone]);
      for (const field of ['churn_risk', 'timezone'] as const) {
        if (change[field === 'churn_risk' ? 'churnRisk' : 'timezone'] === undefined) continue;
        await db.query(
          `INSERT INTO audit_log (customer_id, field, old_value, new_value, actor, process, idempotency_key)
           VALUES ($1, $2, $3, $4, $5, 'retention', $6)`,
          [id, field, JSON.stringify(before[field] === null ? null : field === 'churn_risk' ? Number(before[field]) : before[field]), JSON.stringify(after[field] === null ? null : field === 'churn_risk' ? Number(after[field]) : after[field]), actor, `retention-profile:${c.get('requestId')}:${field}`],
        );
      }
      return after;
    });
    return c.json({ customerId: id, churnRisk: profile.churn_risk === null ? null : Number(profile.churn_risk), timezone: profile.timezone }, 200);
  });

  return app;
}
