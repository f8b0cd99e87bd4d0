/**
 * Leads: intake starts a `leadFunnel`, transitions are its `transition` update, a lead is its
 * `state` query (also after it closed), and the list is Temporal visibility over the search
 * attributes. Deduplication by e-mail reads PostgreSQL first; the funnel's intake is the guard.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  LEAD_SOURCES,
  LEAD_STAGES,
  intakeOutcomeUpdate,
  leadIntakeSchema,
  leadStateQuery,
  leadSummary,
  leadWorkflowId,
  reassignRequestSchema,
  reassignUpdate,
  transitionRequestSchema,
  transitionUpdate,
  type IntakeOutcome,
  type LeadState,
} from '../../domain/acquisition.js';
import { normaliseEmail } from '../../domain/contact-data.js';
import { CrmOwner, CrmProcess, CrmSource, CrmStatus } from '../../domain/search-attributes.js';
import type { leadFunnel } from '../../../workflows/acquisition.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { idempotencyKeySchema, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';

const operational = requireRole('agent', 'backoffice', 'admin');

export const leadIdParam = z.object({ id: z.uuid({ message: 'must be a lead id (UUID)' }).openapi({ param: { name: 'id', in: 'path' } }) });

const leadStateSchema = z
  .object({
    leadId: z.string(),
    workflowId: z.string(),
    stage: z.enum(LEAD_STAGES),
    owner: z.string().optional(),
    score: z.object({ value: z.number(), grade: z.string(), reasons: z.array(z.object({ rule: z.string(), points: z.number(), detail: z.string() })), scoredAt: z.string() }).optional(),
    nextDue: z.object({ kind: z.string(), at: z.string() }).optional(),
    transitions: z.array(z.object({ from: z.string().nullable(), to: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() })),
    closed: z.boolean(),
  })
  .loose()
  .openapi('LeadState');

const intakeAnswerSchema = z
  .object({
    status: z.enum(['accepted', 'pending', 'existing-lead', 'existing-customer']),
    leadId: z.string().optional(),
    customerId: z.string().optional(),
    workflowId: z.string().optional(),
    stage: z.string().optional(),
    owner: z.string().optional(),
    score: z.number().optional(),
  })
  .openapi('LeadIntakeAnswer');

const intakeRoute = createRoute({
  method: 'post',
  path: '/v1/leads',
  operationId: 'createLead',
  tags: ['leads'],
  summary: 'Take in a lead',
  description:
    'Starts the `leadFunnel` workflow (id `lead-<leadId>`): scoring, owner assignment and the contact SLA. ' +
    'An open lead or a customer with the same normalised e-mail is not funnelled twice: the answer is 200 and points to it. ' +
    'A repeat with the same Idempotency-Key returns the first result.',
  middleware: [operational] as const,
  request: {
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(leadIntakeSchema.openapi('LeadIntake'), {
      name: 'Grace Hopper',
      email: 'grace@example.com',
      phone: '+1 212 555 0100',
      company: 'Hopper Analytics',
      companySize: '51-200',
      source: 'web',
      interest: 'Campaigns for 20,000 customers',
      locale: 'en-US',
    }),
  },
  responses: {
    200: jsonContent(intakeAnswerSchema, 'The person already is an open lead or a customer'),
    202: jsonContent(intakeAnswerSchema, 'The lead was taken in; its funnel runs'),
    ...problemResponses(400, 401, 403, 413, 415, 422),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/leads',
  operationId: 'listLeads',
  tags: ['leads'],
  summary: 'List leads (Temporal visibility)',
  description: 'Filters by stage, owner and source through the search attributes CrmStatus, CrmOwner and CrmSource. Eventually consistent.',
  middleware: [operational] as const,
  request: {
    query: z
      .object({
        stage: z.enum(LEAD_STAGES).optional(),
        owner: z.string().trim().regex(/^[^'"\\\s]{1,254}$/, 'must be an owner id (an e-mail address)').optional(),
        source: z.enum(LEAD_SOURCES).optional(),
        pageSize: z.coerce.number().int().min(1).max(100).default(20),
        pageToken: z.string().regex(/^[A-Za-z0-9_-]{1,4096}$/, 'must be a nextPageToken from an earlier page').optional(),
      })
      .strict(),
  },
  responses: {
    200: jsonContent(
      z.object({
        items: z.array(
          z.object({
            leadId: z.string(),
            workflowId: z.string(),
            name: z.string().optional(),
            company: z.string().optional(),
            stage: z.string().optional(),
            owner: z.string().optional(),
            source: z.string().optional(),
            status: z.string(),
            startedAt: z.string(),
            closedAt: z.string().optional(),
          }),
        ),
        nextPageToken: z.string().optional(),
      }),
      'A page of leads',
    ),
    ...problemResponses(400, 401, 403),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/leads/{id}',
  operationId: 'getLead',
  tags: ['leads'],
  summary: 'Where a lead stands and why (the funnel state query)',
  middleware: [operational] as const,
  request: { params: leadIdParam },
  responses: { 200: jsonContent(leadStateSchema, 'The lead'), ...problemResponses(400, 401, 403, 404) },
});

const transitionRoute = createRoute({
  method: 'post',
  path: '/v1/leads/{id}/transitions',
  operationId: 'moveLead',
  tags: ['leads'],
  summary: 'Move a lead to another stage',
  description:
    'The funnel validates the move before it is recorded: only allowed edges; `qualified` needs need, budget and timeline; ' +
    '`proposal` needs product and amount; `lost` needs a reason. A refused move is a 409 with the reason and leaves no trace. ' +
    'Send `from` to refuse the move if the lead has moved on since you looked. A repeat with the same Idempotency-Key returns the first result.',
  middleware: [operational] as const,
  request: {
    params: leadIdParam,
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(transitionRequestSchema.openapi('LeadTransitionRequest'), { to: 'contacted', from: 'new', note: 'Called; wants a demo next week' }),
  },
  responses: {
    200: jsonContent(leadStateSchema, 'The lead after the move'),
    202: jsonContent(z.object({ status: z.literal('pending'), leadId: z.string(), workflowId: z.string() }), 'Accepted; the move is still being carried out'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

const reassignRoute = createRoute({
  method: 'post',
  path: '/v1/leads/{id}/owner',
  operationId: 'reassignLead',
  tags: ['leads'],
  summary: 'Hand a lead to another owner',
  description: 'The new owner inherits the lead and its running deadlines (reminders go to them). A closed lead, or the same owner, is a 409.',
  middleware: [operational] as const,
  request: { params: leadIdParam, body: jsonBody(reassignRequestSchema.openapi('LeadReassignRequest'), { ownerId: 'sales.north@example.com', reason: 'Territory change' }) },
  responses: { 200: jsonContent(leadStateSchema, 'The lead with its new owner'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

/** An intake with an Idempotency-Key names one lead per claim of the key, so its repeat finds the first run. */
function leadIdFor(scope: string | undefined): string {
  if (!scope) return randomUUID();
  const h = createHash('sha256').update(`lead:${scope}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function isNotFound(err: unknown): boolean {
  return (err as Error)?.name === 'WorkflowNotFoundError' || /not found/i.test((err as Error)?.message ?? '');
}

export async function leadState(temporal: Client, leadId: string): Promise<LeadState & { workflowId: string; closed: boolean }> {
  const handle = temporal.workflow.getHandle(leadWorkflowId(leadId));
  try {
    const [state, description] = await Promise.all([handle.query(leadStateQuery), handle.describe()]);
    return { ...state, workflowId: handle.workflowId, closed: description.status.name !== 'RUNNING' };
  } catch (err) {
    if (isNotFound(err)) throw new ApiError(404, `No lead with id ${leadId}`);
    throw err;
  }
}

async function existingFor(deps: ApiDeps, email: string): Promise<{ leadId?: string; customerId?: string }> {
  const normalised = normaliseEmail(email);
  const lead = await deps.pool.query<{ id: string }>(`SELECT id FROM leads WHERE email_normalized = $1 AND stage NOT IN ('won', 'lost') LIMIT 1`, [normalised]);
  if (lead.rows[0]) return { leadId: lead.rows[0].id };
  const customer = await deps.pool.query<{ id: string }>('SELECT id FROM customers WHERE email_normalized = $1', [normalised]);
  return customer.rows[0] ? { customerId: customer.rows[0].id } : {};
}

const leadIdOf = (workflowId: string) => workflowId.replace(/^lead-/, '');

/** A keyword search attribute of a raw visibility record (search attributes are never encrypted). */
const decodePayload = (fields: Record<string, unknown> | null | undefined, name: string): string | undefined => {
  const payload = fields?.[name];
  if (!payload) return undefined;
  const value = defaultPayloadConverter.fromPayload(payload as never);
  return typeof value === 'string' ? value : undefined;
};

const quote = (v: string) => `'${v.replace(/['\\]/g, '')}'`;

/**
 * Visibility page tokens, sealed: Temporal answers a forged token only after long retries, and a
 * token is only meaningful for the query that made it. The MAC key derives from the configured API
 * keys, so every API instance of one deployment accepts the others' tokens.
 */
function pageTokenSeal(keys: ApiDeps['keys']) {
  const key = createHash('sha256').update(`lead-list-page-token:${keys.map((k) => k.sha256).sort().join(',')}`).digest();
  const mac = (raw: Uint8Array, query: string) => createHmac('sha256', key).update(query).update(raw).digest().subarray(0, 16);
  return {
    seal: (raw: Uint8Array, query: string) => Buffer.concat([mac(raw, query), raw]).toString('base64url'),
    /** The raw token, or null when it was not made by this listing for this query. */
    open(token: string, query: string): Buffer | null {
      const sealed = Buffer.from(token, 'base64url');
      if (sealed.length <= 16) return null;
      const raw = sealed.subarray(16);
      return timingSafeEqual(sealed.subarray(0, 16), mac(raw, query)) ? raw : null;
    },
  };
}

export function acquisitionRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const pageTokens = pageTokenSeal(deps.keys);

  app.openapi(intakeRoute, async (c) => {
    const body = c.req.valid('json');
    const leadId = leadIdFor(c.get('idempotency')?.scope);
    const workflowId = leadWorkflowId(leadId);
    const existing = await existingFor(deps, body.email);
    if (existing.customerId) {
      return c.json({ status: 'existing-customer' as const, customerId: existing.customerId }, 200, { Location: `/v1/customers/${existing.customerId}` });
    }
    if (existing.leadId && existing.leadId !== leadId) {
      return c.json({ status: 'existing-lead' as const, leadId: existing.leadId, workflowId: leadWorkflowId(existing.leadId) }, 200, { Location: `/v1/leads/${existing.leadId}` });
    }

    c.set('workflowId', workflowId);
    const { actor, role } = c.get('principal');
    const { handle } = await startOnce<typeof leadFunnel>(
      deps.temporal,
      'leadFunnel',
      {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [{ leadId, intake: body, actor }],
        typedSearchAttributes: [
          { key: CrmProcess, value: 'acquisition' },
          { key: CrmStatus, value: 'new' },
          { key: CrmSource, value: body.source },
          ...(body.ownerId ? [{ key: CrmOwner, value: body.ownerId }] : []),
        ],
        staticSummary: leadSummary(body),
        staticDetails: `Taken in by ${actor} (${role}); e-mail ${body.email}`,
      },
      c.get('idempotency'),
    );
    const outcome = await intakeOutcome(handle, deps.resultWaitMs ?? 10_000);
    if (outcome.outcome === 'duplicate') {
      if (outcome.existingCustomerId) {
        return c.json({ status: 'existing-customer' as const, customerId: outcome.existingCustomerId }, 200, { Location: `/v1/customers/${outcome.existingCustomerId}` });
      }
      return c.json({ status: 'existing-lead' as const, leadId: outcome.existingLeadId, workflowId: leadWorkflowId(outcome.existingLeadId!) }, 200, { Location: `/v1/leads/${outcome.existingLeadId}` });
    }
    const location = `/v1/leads/${leadId}`;
    if (outcome.outcome === 'pending') return c.json({ status: 'pending' as const, leadId, workflowId }, 202, { Location: location });
    const state = await handle.query(leadStateQuery);
    return c.json({ status: 'accepted' as const, leadId, workflowId, stage: state.stage, owner: state.owner, score: state.score?.value }, 202, { Location: location });
  });

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const clauses = [`WorkflowType = 'leadFunnel'`, `TaskQueue = ${quote(deps.taskQueue)}`, `CrmStatus != 'duplicate'`];
    if (q.stage) clauses.push(`CrmStatus = ${quote(q.stage)}`);
    if (q.owner) clauses.push(`CrmOwner = ${quote(q.owner)}`);
    if (q.source) clauses.push(`CrmSource = ${quote(q.source)}`);
    const query = clauses.join(' AND ');
    const nextPageToken = q.pageToken === undefined ? undefined : pageTokens.open(q.pageToken, query);
    if (nextPageToken === null) {
      throw new ApiError(400, 'Invalid request: query.pageToken: is not a nextPageToken of this listing', {
        errors: [{ path: 'query.pageToken', message: 'is not a nextPageToken of this listing', code: 'custom' }],
      });
    }
    const page = await deps.temporal.workflowService.listWorkflowExecutions({ namespace: deps.temporal.options.namespace, query, pageSize: q.pageSize, nextPageToken });
    // Names come from the operational record, not from payloads (which may be encrypted).
    const ids = (page.executions ?? []).map((e) => leadIdOf(e.execution?.workflowId ?? '')).filter((id) => /^[0-9a-f-]{36}$/.test(id));
    const { rows } = await deps.pool.query<{ id: string; name: string; company: string | null }>('SELECT id, name, company FROM leads WHERE id = ANY($1::uuid[])', [ids]);
    const names = new Map(rows.map((r) => [r.id, r]));
    const items = (page.executions ?? []).map((e) => {
      const sa = (name: string) => decodePayload(e.searchAttributes?.indexedFields, name);
      const workflowId = e.execution?.workflowId ?? '';
      const ts = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t?.seconds != null ? new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : undefined);
      return {
        leadId: leadIdOf(workflowId),
        workflowId,
        name: names.get(leadIdOf(workflowId))?.name,
        company: names.get(leadIdOf(workflowId))?.company ?? undefined,
        stage: sa(CrmStatus.name),
        owner: sa(CrmOwner.name),
        source: sa(CrmSource.name),
        status: statusName(e.status ?? 0),
        startedAt: ts(e.startTime) ?? '',
        closedAt: ts(e.closeTime),
      };
    });
    const token = page.nextPageToken && page.nextPageToken.length > 0 ? pageTokens.seal(page.nextPageToken, query) : undefined;
    return c.json({ items, ...(token ? { nextPageToken: token } : {}) }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await leadState(deps.temporal, id), 200);
  });

  app.openapi(transitionRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const scope = c.get('idempotency')?.scope;
    const handle = deps.temporal.workflow.getHandle<typeof leadFunnel>(leadWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    try {
      const moved = handle.executeUpdate(transitionUpdate, { args: [{ ...body, actor: c.get('principal').actor }], ...(scope ? { updateId: `transition-${scope}` } : {}) });
      moved.catch(() => undefined); // awaited below; this only keeps a late failure from going unhandled
      // Accepted but not yet done (a conversion waiting for the database, no worker running): the
      // move completes on its own; the caller follows the lead.
      if ((await resultWithin(moved, deps.resultWaitMs ?? 10_000)) === undefined) {
        return c.json({ status: 'pending' as const, leadId: id, workflowId: handle.workflowId }, 202, { Location: `/v1/leads/${id}` });
      }
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, err.cause?.message ?? err.message, { stage: (await leadState(deps.temporal, id)).stage });
      // Not running: unknown (404) or closed (409 with its final stage).
      const state = await leadState(deps.temporal, id);
      if (state.closed) throw new ApiError(409, `the lead is already ${state.stage}; a closed lead does not move`, { stage: state.stage });
      throw err;
    }
    return c.json(await leadState(deps.temporal, id), 200);
  });

  app.openapi(reassignRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const handle = deps.temporal.workflow.getHandle<typeof leadFunnel>(leadWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    try {
      await handle.executeUpdate(reassignUpdate, { args: [{ ...body, actor: c.get('principal').actor }] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, err.cause?.message ?? err.message);
      const state = await leadState(deps.temporal, id); // 404 when there is no such lead
      if (state.closed) throw new ApiError(409, `the lead is already ${state.stage}; a closed lead keeps its owner`);
      throw err;
    }
    return c.json(await leadState(deps.temporal, id), 200);
  });

  return app;
}

async function intakeOutcome(handle: WorkflowHandle<typeof leadFunnel>, waitMs: number): Promise<IntakeOutcome> {
  try {
    const answer = handle.executeUpdate(intakeOutcomeUpdate);
    answer.catch(() => undefined); // still awaited below; this only keeps a late failure from going unhandled
    return (await resultWithin(answer, waitMs)) ?? { outcome: 'pending' };
  } catch {
    // The funnel has closed already (a repeat of an old intake): its state still says how intake went.
    return (await handle.query(leadStateQuery)).intake;
  }
}

const STATUS_NAMES = ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT'];
function statusName(code: number): string {
  return STATUS_NAMES[code] ?? 'UNSPECIFIED';
}
