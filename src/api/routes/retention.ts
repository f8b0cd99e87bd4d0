/**
 * Retention campaigns: a campaign is a stored definition plus the Temporal Schedule
 * `campaign-<id>` that fires its runs. Pausing pauses the Schedule, a manual run triggers it.
 * Enrollments are read in ./retention-enrollments.ts; customer events and the retention profile
 * in ./retention-events.ts.
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
  parseDuration,
  type CampaignRunInput,
} from '../../domain/retention.js';
import { CrmCampaignId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import { BACKOFFICE_ROLES, OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { idempotencyKeySchema, requestHash, resultWithin } from '../idempotency.js';
import { uuidFromKey } from '../ids.js';
import { ApiError } from '../problem.js';
import {
  campaignActivity,
  insertCampaign,
  listCampaigns as listCampaignRows,
  readCampaign as readCampaignRow,
  setCampaignStatus,
  type CampaignRow,
} from '../../db/repositories/campaigns.js';
import { unknownProductIds } from '../../db/repositories/products.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { LIVE_QUERY_TIMEOUT_MS } from '../live.js';
import { uuidParam } from '../schemas.js';
import { invalidArgumentOf, throwTemporalProblem } from '../temporal-errors.js';

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

export const campaignParam = uuidParam('a campaign');

const createCampaign = createRoute({
  method: 'post',
  path: '/v1/campaigns',
  operationId: 'createCampaign',
  tags: ['retention'],
  summary: 'Create a scheduled retention campaign',
  description:
    'Validates the definition and creates the Temporal Schedule `campaign-<id>` (cron or interval, in an IANA time zone). Each firing starts a ' +
    '`campaignRun` that enrolls the segment; each enrollment (`campaign-<id>-<customerId>`) walks the steps, keeping suppressions, quiet hours ' +
    "in the customer's time zone and the weekly message cap across all campaigns, and ends when the goal is met.",
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
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
  responses: {
    201: jsonContent(campaignSchema, 'Created and scheduled (or the campaign this Idempotency-Key created)'),
    ...problemResponses(400, 401, 403, 413, 415, 422),
  },
});

const listCampaigns = createRoute({
  method: 'get',
  path: '/v1/campaigns',
  operationId: 'listCampaigns',
  tags: ['retention'],
  summary: 'Campaigns, newest first',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
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
  description:
    'Definition, runs and enrollments come from PostgreSQL; `schedule` is the live view of the Temporal Schedule, null when Temporal does not answer within a second.',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: campaignParam },
  responses: { 200: jsonContent(campaignSchema, 'The campaign'), ...problemResponses(400, 401, 403, 404) },
});

const patchCampaign = createRoute({
  method: 'patch',
  path: '/v1/campaigns/{id}',
  operationId: 'updateCampaign',
  tags: ['retention'],
  summary: 'Pause or resume a campaign (its Schedule)',
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
  request: {
    params: campaignParam,
    body: jsonBody(campaignPatchSchema.openapi('CampaignPatch'), { status: 'paused', note: 'Paused over the holidays' }),
  },
  responses: { 200: jsonContent(campaignSchema, 'The campaign'), ...problemResponses(400, 401, 403, 404, 413, 415) },
});

const triggerRun = createRoute({
  method: 'post',
  path: '/v1/campaigns/{id}/runs',
  operationId: 'runCampaign',
  tags: ['retention'],
  summary: 'Run the campaign now (triggers its Schedule)',
  description: 'A run of a paused campaign records itself as skipped. A run while another is still enrolling waits for it (buffer one).',
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
  request: { params: campaignParam },
  responses: {
    202: jsonContent(z.object({ campaignId: z.string(), scheduleId: z.string(), triggeredAt: z.string(), runsUrl: z.string() }), 'Triggered'),
    ...problemResponses(400, 401, 403, 404),
  },
});

function scheduleView(d: ScheduleDescription | undefined) {
  if (!d) return null;
  return {
    paused: d.state.paused,
    note: d.state.note,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
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
      LIVE_QUERY_TIMEOUT_MS,
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
    const names = await unknownProductIds(deps.pool, [
      ...def.steps.flatMap((s) => (s.type === 'offer' ? [s.productId] : [])),
      ...(def.segment.ownsAnyOf ?? []),
      ...(def.segment.missingAllOf ?? []),
    ]);
    if (names.length) {
      throw new ApiError(400, `Invalid request: unknown products ${names.join(', ')}`, {
        errors: names.map((n) => ({ path: 'body', message: `no product ${n}`, code: 'custom' })),
      });
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
              { key: CrmProcess, value: CRM_PROCESS.retention },
              { key: CrmCampaignId, value: id },
              { key: CrmStatus, value: 'enrolling' },
            ],
            staticSummary: `Run of campaign "${def.name}"`,
          },
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
          memo: { campaignName: def.name, createdBy: principal.actor },
          typedSearchAttributes: [
            { key: CrmProcess, value: CRM_PROCESS.retention },
            { key: CrmCampaignId, value: id },
          ],
          state: { note: `Created by ${principal.actor}` },
        });
      } catch (err) {
        // The server is the last judge of a cron expression or time zone.
        const invalid = invalidArgumentOf(err);
        if (invalid !== undefined)
          throw new ApiError(400, `Invalid request: body.schedule: ${invalid}`, {
            errors: [{ path: 'body.schedule', message: invalid, code: 'custom' }],
          });
        throwTemporalProblem(err);
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
    return c.json({ campaignId: id, scheduleId, triggeredAt: new Date().toISOString(), runsUrl: `/v1/campaigns/${id}` }, 202, {
      Location: `/v1/campaigns/${id}`,
    });
  });

  return app;
}
