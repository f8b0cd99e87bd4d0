/**
 * Leads: intake starts a `leadFunnel`; transitions, hand-overs and corrections are its updates
 * (./acquisition-commands.ts).
 * Reads come from the record in PostgreSQL, which the funnel's activities write before a request
 * is answered: a lead with its timeline, and the list and search of leads. A running funnel's own
 * state is a live detail, on request. Deduplication by e-mail reads PostgreSQL first; the funnel's
 * intake is the guard.
 */
import { randomUUID } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { WorkflowHandle } from '@temporalio/client';
import { intakeOutcomeUpdate, leadFunnelStart, leadIntakeSchema, leadStateQuery, leadWorkflowId, type IntakeOutcome } from '../../domain/acquisition.js';
import { normaliseEmail } from '../../domain/contact-data.js';
import { findCustomerId } from '../../db/repositories/customers.js';
import { findOpenLeadId, listLeads, readLead, type LeadRecord } from '../../db/repositories/leads.js';
import { unsellableProducts, unsellableReason } from '../../db/repositories/products.js';
import { liveParamSchema, liveState, withLive } from '../live.js';
import { checkRanges, isoDateTimeSchema, listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import { activeUserOrProblem, teamOrProblem } from './user-schemas.js';
import type { leadFunnel } from '../../../workflows/acquisition.js';
import { operational } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { uuidFromKey } from '../ids.js';
import { dealShape, kindSchema, leadIdParam, leadSchema, sourceSchema, stageSchema } from './lead-schemas.js';
import { idempotencyKeySchema, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';

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
    'Starts the `leadFunnel` workflow (id `lead-<leadId>`): scoring, owner assignment and the contact SLA. The owner is `ownerId` (an active ' +
    'user: unknown is a 400, deactivated a 409) or the next active agent of the team `teamId` (default: LEAD_TEAM), round-robin. ' +
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
    ...problemResponses(400, 401, 403, 409, 413, 415, 422),
  },
});

const listQuerySchema = z
  .object({
    kind: kindSchema.optional(),
    stage: stageSchema.optional(),
    owner: z
      .string()
      .trim()
      .regex(/^[^'"\\\s]{1,254}$/, 'must be an owner id (a user id; an e-mail address for leads taken in before owners were users)')
      .optional(),
    source: sourceSchema.optional(),
    scoreMin: z.coerce.number().int().min(0).max(100).optional(),
    scoreMax: z.coerce.number().int().min(0).max(100).optional(),
    createdFrom: isoDateTimeSchema.optional(),
    createdTo: isoDateTimeSchema.optional(),
    closedFrom: isoDateTimeSchema.optional(),
    closedTo: isoDateTimeSchema.optional(),
    q: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(200, 'has at most 200 characters')
      .optional()
      .openapi({ description: 'Contained in the name, e-mail or company (any case)', pattern: '\\S' }),
    sort: z.enum(['-created', 'created']).default('-created'),
    pageSize: pageSizeSchema,
    pageToken: pageTokenSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.scoreMin !== undefined && v.scoreMax !== undefined && v.scoreMin > v.scoreMax)
      ctx.addIssue({ code: 'custom', path: ['scoreMax'], message: 'must not be below scoreMin' });
    checkRanges(v, ctx, [
      ['createdFrom', 'createdTo'],
      ['closedFrom', 'closedTo'],
    ]);
  });

export const leadListItemSchema = z
  .object({
    leadId: z.string(),
    kind: kindSchema,
    workflowId: z.string(),
    name: z.string(),
    email: z.string(),
    company: z.string().nullable(),
    stage: stageSchema,
    owner: z.string(),
    source: sourceSchema,
    score: z.number().nullable(),
    customerId: z.string().nullable(),
    createdAt: z.string(),
    closedAt: z.string().nullable(),
    ...dealShape,
  })
  .openapi('LeadListItem');

const listRoute = createRoute({
  method: 'get',
  path: '/v1/leads',
  operationId: 'listLeads',
  tags: ['leads'],
  summary: 'List and search leads',
  description:
    'From the record in PostgreSQL, also for leads whose workflow Temporal no longer holds: filters by stage, owner, source, score range, ' +
    'created and closed ranges (from inclusive, to exclusive), and free text over name, e-mail and company; newest first unless `sort=created`. ' +
    'Pages follow each other by `nextPageToken` (opaque, bound to the filters).',
  middleware: [operational] as const,
  request: { query: listQuerySchema },
  responses: {
    200: jsonContent(
      z.object({
        items: z.array(leadListItemSchema),
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
  summary: 'A lead with its timeline: where it stands, who moved it, when and why',
  description:
    'From the record in PostgreSQL, with no worker needed. `live=true` adds the running funnel’s own state as `live` when it answers within a second.',
  middleware: [operational] as const,
  request: { params: leadIdParam, query: z.object({ live: liveParamSchema }).strict() },
  responses: { 200: jsonContent(leadSchema, 'The lead'), ...problemResponses(400, 401, 403, 404) },
});

/** An intake with an Idempotency-Key names one lead per claim of the key, so its repeat finds the first run. */
function leadIdFor(scope: string | undefined): string {
  return scope ? uuidFromKey(`lead:${scope}`, '5') : randomUUID();
}

/** The lead as the record holds it; 404 when there is none. */
export async function leadRecordOf(deps: ApiDeps, leadId: string): Promise<LeadRecord> {
  const lead = await readLead(deps.pool, leadId);
  if (!lead) throw new ApiError(404, `No lead with id ${leadId}`);
  return lead;
}

/** 400 naming each product a deal may not sell (unknown, or no longer sold). */
export async function checkProducts(deps: ApiDeps, productIds: string[] | undefined, path = 'body.productIds'): Promise<void> {
  const bad = await unsellableProducts(deps.pool, productIds ?? []);
  if (bad.length === 0) return;
  const errors = bad.map((b) => ({
    path,
    message: unsellableReason(b),
    code: 'custom',
  }));
  throw new ApiError(400, `Invalid request: ${path}: ${errors.map((e) => e.message).join('; ')}`, { errors });
}

async function existingFor(deps: ApiDeps, email: string): Promise<{ leadId?: string; customerId?: string }> {
  const normalised = normaliseEmail(email);
  const leadId = await findOpenLeadId(deps.pool, normalised);
  if (leadId) return { leadId };
  const customerId = await findCustomerId(deps.pool, normalised);
  return customerId ? { customerId } : {};
}

export function acquisitionRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const tokens = pageTokens(deps.pageTokenSecret);
  const waitMs = resultWaitMs(deps);

  app.openapi(intakeRoute, async (c) => {
    const body = c.req.valid('json');
    await checkProducts(deps, body.productIds);
    const leadId = leadIdFor(c.get('idempotency')?.scope);
    const workflowId = leadWorkflowId(leadId);
    const existing = await existingFor(deps, body.email);
    if (existing.customerId) {
      return c.json({ status: 'existing-customer' as const, customerId: existing.customerId }, 200, {
        Location: `/v1/customers/${existing.customerId}`,
      });
    }
    if (existing.leadId && existing.leadId !== leadId) {
      return c.json({ status: 'existing-lead' as const, leadId: existing.leadId, workflowId: leadWorkflowId(existing.leadId) }, 200, {
        Location: `/v1/leads/${existing.leadId}`,
      });
    }

    // An owner must be an active user, and a named team must exist: refused before anything starts.
    if (body.ownerId) await activeUserOrProblem(deps.pool, body.ownerId, 'body.ownerId');
    if (body.teamId) await teamOrProblem(deps.pool, body.teamId, 'body.teamId');
    c.set('workflowId', workflowId);
    const { actor, roles } = c.get('principal');
    const { handle } = await startOnce<typeof leadFunnel>(
      deps.temporal,
      'leadFunnel',
      { taskQueue: deps.taskQueue, ...leadFunnelStart(leadId, body, actor, `Taken in by user ${actor} (${roles.join(', ')}); e-mail ${body.email}`) },
      c.get('idempotency'),
    );
    const outcome = await intakeOutcome(deps, handle, leadId, body.email, waitMs);
    if (outcome.outcome === 'duplicate') {
      if (outcome.existingCustomerId) {
        return c.json({ status: 'existing-customer' as const, customerId: outcome.existingCustomerId }, 200, {
          Location: `/v1/customers/${outcome.existingCustomerId}`,
        });
      }
      return c.json({ status: 'existing-lead' as const, leadId: outcome.existingLeadId, workflowId: leadWorkflowId(outcome.existingLeadId!) }, 200, {
        Location: `/v1/leads/${outcome.existingLeadId}`,
      });
    }
    const location = `/v1/leads/${leadId}`;
    if (outcome.outcome === 'pending') return c.json({ status: 'pending' as const, leadId, workflowId }, 202, { Location: location });
    const lead = await leadRecordOf(deps, leadId);
    return c.json({ status: 'accepted' as const, leadId, workflowId, stage: lead.stage, owner: lead.owner, score: lead.score?.value }, 202, {
      Location: location,
    });
  });

  app.openapi(listRoute, async (c) => {
    const { pageSize, pageToken, ...filter } = c.req.valid('query');
    const listing = listingOf('leads', filter);
    const page = await listLeads(deps.pool, filter, pageToken === undefined ? undefined : tokens.open(pageToken, listing), pageSize);
    return c.json({ items: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const lead = await leadRecordOf(deps, id);
    const ask = (c.req.valid('query').live ?? false) && !lead.closed;
    return c.json(await withLive(lead, ask, () => liveState(deps.temporal, lead.workflowId, leadStateQuery)), 200);
  });

  return app;
}

async function intakeOutcome(deps: ApiDeps, handle: WorkflowHandle<typeof leadFunnel>, leadId: string, email: string, waitMs: number): Promise<IntakeOutcome> {
  try {
    const answer = handle.executeUpdate(intakeOutcomeUpdate);
    answer.catch(() => undefined); // still awaited below; this only keeps a late failure from going unhandled
    return (await resultWithin(answer, waitMs)) ?? { outcome: 'pending' };
  } catch {
    // The funnel has closed already (a repeat of an old intake): the record says how intake went.
    if (await readLead(deps.pool, leadId)) return { outcome: 'accepted' };
    const existing = await existingFor(deps, email);
    return existing.leadId || existing.customerId
      ? { outcome: 'duplicate', existingLeadId: existing.leadId, existingCustomerId: existing.customerId }
      : { outcome: 'pending' };
  }
}
