/**
 * Opportunities and deals. An opportunity is the lead funnel (`leadFunnel`, `lead-<id>`) run for
 * an existing customer from `qualified`: the same record, reads (GET /v1/leads/{id}) and commands
 * (transitions, owner) as a lead, linked to the customer from the start, and its `won` registers
 * no one but adds the sold products to the customer's. Every lead and opportunity carries a deal
 * (amount, currency, expected close, products), changed through the funnel's `changeDeal` update.
 */
import { randomUUID } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  OPPORTUNITY_SOURCE,
  changeDealUpdate,
  dealChangeRequestSchema,
  intakeOutcomeUpdate,
  leadWorkflowId,
  opportunityRequestSchema,
  type FunnelIntake,
} from '../../domain/acquisition.js';
import { CRM_PROCESS, LEAD_STAGE } from '../../domain/processes.js';
import { CrmCustomerId, CrmOwner, CrmProcess, CrmSource, CrmStatus } from '../../domain/search-attributes.js';
import { readCustomerRow } from '../../db/repositories/customers.js';
import { listLeads, readLead } from '../../db/repositories/leads.js';
import type { leadFunnel } from '../../../workflows/acquisition.js';
import { operational } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema, resultWithin, startOnce } from '../idempotency.js';
import { uuidFromKey } from '../ids.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';
import { listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import { checkProducts, leadListItemSchema, leadRecordOf } from './acquisition.js';
import { doneWithin } from './acquisition-commands.js';
import { leadIdParam, leadSchema, pendingSchema } from './lead-schemas.js';

const createRouteDef = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/opportunities',
  operationId: 'createOpportunity',
  tags: ['opportunities'],
  summary: 'Sell to an existing customer: open an opportunity',
  description:
    'Starts the lead funnel (`leadFunnel`, id `lead-<id>`) for the customer at `qualified`, with no second registration: the opportunity is read, ' +
    'moved and handed over as a lead is (`/v1/leads/{id}`), and when won its products join the customer’s products. ' +
    'Products must be active in the catalogue; an erased customer is a 409. A repeat with the same Idempotency-Key returns the first result.',
  middleware: [operational] as const,
  request: {
    params: customerIdParam,
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(opportunityRequestSchema.openapi('OpportunityRequest'), {
      productIds: ['tv-premium'],
      amount: 299.88,
      currency: 'EUR',
      expectedClose: '2026-09-30',
      interest: 'Wants the sports package for the season',
    }),
  },
  responses: {
    201: jsonContent(leadSchema, 'The opportunity, taken in at `qualified`'),
    202: jsonContent(pendingSchema, 'Accepted; the opportunity is still being taken in'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/opportunities',
  operationId: 'listCustomerOpportunities',
  tags: ['opportunities'],
  summary: 'The customer’s opportunities, newest first, with amount, probability and weighted amount',
  description: 'From the record in PostgreSQL, page by page (`nextPageToken`). Each opportunity reads in full at `/v1/leads/{leadId}`.',
  middleware: [operational] as const,
  request: { params: customerIdParam, query: z.object({ pageSize: pageSizeSchema, pageToken: pageTokenSchema.optional() }).strict() },
  responses: {
    200: jsonContent(z.object({ opportunities: z.array(leadListItemSchema), nextPageToken: z.string().optional() }), 'Opportunities'),
    ...problemResponses(400, 401, 403, 404),
  },
});

const changeDealRoute = createRoute({
  method: 'patch',
  path: '/v1/leads/{id}/deal',
  operationId: 'changeDeal',
  tags: ['leads', 'opportunities'],
  summary: 'Change the deal of a lead or opportunity: amount, currency, expected close, products',
  description:
    'Through the funnel’s `changeDeal` update: the record, the deal’s timeline (`dealChanges`), one audit entry per changed field and the ' +
    'search attributes the forecast is learned from change together. Products must be active in the catalogue. A closed deal is a 409.',
  middleware: [operational] as const,
  request: {
    params: leadIdParam,
    body: jsonBody(dealChangeRequestSchema.openapi('DealChange'), { amount: 24000, expectedClose: '2026-10-15', reason: 'Two more seats' }),
  },
  responses: {
    200: jsonContent(leadSchema, 'The lead or opportunity with its changed deal'),
    202: jsonContent(pendingSchema, 'Accepted; the change is still being carried out'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

/** The customer an opportunity sells to: 404 when unknown, 409 when erased. */
async function customerToSellTo(deps: ApiDeps, customerId: string) {
  const customer = await readCustomerRow(deps.pool, customerId);
  if (!customer) throw new ApiError(404, `No customer with id ${customerId}`);
  if (customer.status === 'erased') throw new ApiError(409, `Customer ${customerId} is erased: nothing is sold to them`);
  return customer;
}

export function opportunityRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const waitMs = resultWaitMs(deps);
  const tokens = pageTokens(deps.pageTokenSecret);

  app.openapi(createRouteDef, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const customer = await customerToSellTo(deps, customerId);
    await checkProducts(deps, body.productIds);

    const scope = c.get('idempotency')?.scope;
    const leadId = scope ? uuidFromKey(`opportunity:${customerId}:${scope}`, '5') : randomUUID();
    const workflowId = leadWorkflowId(leadId);
    c.set('workflowId', workflowId);
    const { actor, roles } = c.get('principal');
    // The funnel takes the customer's data as it stands; the record links the opportunity to them.
    const intake: FunnelIntake = {
      name: customer.name,
      email: customer.email,
      ...(customer.phone ? { phone: customer.phone } : {}),
      source: OPPORTUNITY_SOURCE,
      locale: customer.locale,
      ...body,
    };
    const { handle } = await startOnce<typeof leadFunnel>(
      deps.temporal,
      'leadFunnel',
      {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [{ leadId, intake, actor, opportunity: { customerId } }],
        typedSearchAttributes: [
          { key: CrmProcess, value: CRM_PROCESS.acquisition },
          { key: CrmStatus, value: LEAD_STAGE.qualified },
          { key: CrmSource, value: OPPORTUNITY_SOURCE },
          { key: CrmCustomerId, value: customerId },
          ...(body.ownerId ? [{ key: CrmOwner, value: body.ownerId }] : []),
        ],
        staticSummary: `Opportunity for customer ${customerId}: ${body.productIds.join(', ')}`,
        staticDetails: `Opened by ${actor} (${roles.join(', ')}) for customer ${customerId}`,
      },
      c.get('idempotency'),
    );
    const location = `/v1/leads/${leadId}`;
    const taken = handle.executeUpdate(intakeOutcomeUpdate);
    taken.catch(() => undefined); // awaited below; this only keeps a late failure from going unhandled
    // A funnel that has closed already (a repeat of an old request) answers from the record.
    const outcome = await resultWithin(taken, waitMs).catch(async (err: unknown) =>
      (await readLead(deps.pool, leadId)) ? { outcome: 'accepted' } : Promise.reject(err),
    );
    if (!outcome) return c.json({ status: 'pending' as const, leadId, workflowId }, 202, { Location: location });
    return c.json(await leadRecordOf(deps, leadId), 201, { Location: location });
  });

  app.openapi(listRouteDef, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const { pageSize, pageToken } = c.req.valid('query');
    if (!(await readCustomerRow(deps.pool, customerId))) throw new ApiError(404, `No customer with id ${customerId}`);
    const listing = listingOf('customer-opportunities', { customerId });
    const filter = { kind: 'opportunity' as const, customerId, sort: '-created' as const };
    const page = await listLeads(deps.pool, filter, pageToken === undefined ? undefined : tokens.open(pageToken, listing), pageSize);
    return c.json({ opportunities: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(changeDealRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await checkProducts(deps, body.productIds);
    const handle = deps.temporal.workflow.getHandle<typeof leadFunnel>(leadWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    const changed = handle.executeUpdate(changeDealUpdate, { args: [{ ...body, actor: c.get('principal').actor }] });
    if (!(await doneWithin(deps, id, changed, waitMs, 'a closed deal does not change'))) {
      return c.json({ status: 'pending' as const, leadId: id, workflowId: handle.workflowId }, 202, { Location: `/v1/leads/${id}` });
    }
    return c.json(await leadRecordOf(deps, id), 200);
  });

  return app;
}
