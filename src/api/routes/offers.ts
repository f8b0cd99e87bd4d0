/**
 * Offers: POST starts the `offer` workflow and answers once eligibility is decided (201, or 422
 * naming the rule), the customer's answer is the workflow's `respond` Update. Reads come from the
 * record (offers, offer_events). The catalogue lives in ./catalogue.ts.
 */
import { randomUUID } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  DEFAULT_OFFER_VALIDITY_DAYS,
  MAX_OFFER_VALIDITY_DAYS,
  OFFER_KINDS,
  offerDecidedUpdate,
  offerRequestSchema,
  offerRespondUpdate,
  offerResponseSchema,
  offerWorkflowId,
  type OfferInput,
  type OfferState,
} from '../../domain/offers.js';
import { CrmCustomerId, CrmOfferKind, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import type { offer } from '../../../workflows/offers.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema, resultWithin, startOnce } from '../idempotency.js';
import { uuidFromKey } from '../ids.js';
import { ApiError } from '../problem.js';
import { customerExists } from '../../db/repositories/customers.js';
import { listCustomerOffers, offerProcess, readOffer } from '../../db/repositories/offers.js';
import { jsonBody, jsonContent, problemResponses, problemSchema } from '../openapi.js';
import { customerIdParam, transitionSchema, uuidParam } from '../schemas.js';
import { isWorkflowGone, refusalOf, throwTemporalProblem } from '../temporal-errors.js';

export const offerStateSchema = z
  .object({
    offerId: z.uuid(),
    customerId: z.uuid(),
    kind: z.enum(OFFER_KINDS),
    productId: z.string(),
    replacesProductId: z.string().nullable(),
    price: z.number().nullable(),
    validUntil: z.string(),
    status: z.string(),
    rule: z.string().optional(),
    reason: z.string().optional(),
    campaignId: z.string().optional(),
    transitions: z.array(transitionSchema),
    workflowId: z.string().optional(),
    createdAt: z.string().optional(),
    decidedAt: z.string().nullable().optional().openapi({ description: 'When the offer was answered, expired or withdrawn (from the record)' }),
    decidedBy: z.string().nullable().optional().openapi({ description: 'Who answered it, or system' }),
  })
  .openapi('Offer');

const offerRowSchema = z
  .object({
    offerId: z.uuid(),
    kind: z.string(),
    productId: z.string(),
    replacesProductId: z.string().nullable(),
    price: z.number(),
    validUntil: z.string(),
    status: z.string(),
    rule: z.string().nullable(),
    reason: z.string().nullable(),
    campaignId: z.string().nullable(),
    createdAt: z.string(),
    decidedAt: z.string().nullable(),
    decidedBy: z.string().nullable(),
  })
  .openapi('OfferSummary');

const offerIdParam = uuidParam('an offer');

const makeOffer = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/offers',
  operationId: 'makeOffer',
  tags: ['offers'],
  summary: 'Make an upsell, cross-sell or downsell offer',
  description:
    'Starts the `offer` workflow (`offer-<id>`). Eligibility is decided by rule: upsell needs a higher tier in a category the customer owns; ' +
    'cross-sell a category complementary to one owned and not owned yet; downsell a lower tier for a customer at churn risk or asking to cancel. ' +
    `An ineligible offer is a 422 naming the rule. The offer is e-mailed and stays open until validUntil (default ${DEFAULT_OFFER_VALIDITY_DAYS} days).`,
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    params: customerIdParam,
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(offerRequestSchema.openapi('OfferRequest'), { kind: 'upsell', productId: 'crm-pro' }),
  },
  responses: {
    201: jsonContent(offerStateSchema, 'The offer was made'),
    202: jsonContent(z.object({ status: z.literal('pending'), workflowId: z.string(), statusUrl: z.string() }), 'Accepted, eligibility still being decided'),
    422: {
      content: {
        'application/problem+json': { schema: problemSchema.extend({ rule: z.string().optional(), offerId: z.string().optional() }) },
      },
      description: 'A rule refused the offer (`rule` names it), or the Idempotency-Key was reused with another body',
    },
    ...problemResponses(400, 401, 403, 404, 413, 415),
  },
});

const customerOffers = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/offers',
  operationId: 'listCustomerOffers',
  tags: ['offers'],
  summary: "The customer's offers, newest first",
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: customerIdParam },
  responses: { 200: jsonContent(z.object({ offers: z.array(offerRowSchema) }), 'Offers'), ...problemResponses(400, 401, 403, 404) },
});

const getOffer = createRoute({
  method: 'get',
  path: '/v1/offers/{id}',
  operationId: 'getOffer',
  tags: ['offers'],
  summary: 'An offer and its transitions: who answered, when',
  description: 'Read from PostgreSQL: answers the same once the offer workflow is gone or while no worker runs.',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: offerIdParam },
  responses: { 200: jsonContent(offerStateSchema, 'The offer'), ...problemResponses(400, 401, 403, 404) },
});

const respond = createRoute({
  method: 'post',
  path: '/v1/offers/{id}/response',
  operationId: 'answerOffer',
  tags: ['offers'],
  summary: "Record the customer's answer: accept or decline",
  description:
    'An Update of the `offer` workflow. Repeating the same answer returns the same result; a different answer after one was given, or an answer to an expired offer, is a 409.',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: offerIdParam, body: jsonBody(offerResponseSchema.openapi('OfferResponse'), { decision: 'accept' }) },
  responses: { 200: jsonContent(offerStateSchema, 'The offer after the answer'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

export function offerRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(makeOffer, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const now = Date.now();
    if (body.validUntil) {
      const until = Date.parse(body.validUntil);
      const problems = [];
      if (until <= now) problems.push('must be in the future');
      if (until > now + MAX_OFFER_VALIDITY_DAYS * 86_400_000) problems.push(`must be at most ${MAX_OFFER_VALIDITY_DAYS} days ahead`);
      if (problems.length) {
        throw new ApiError(400, `Invalid request: body.validUntil: ${problems.join('; ')}`, {
          errors: problems.map((message) => ({ path: 'body.validUntil', message, code: 'custom' })),
        });
      }
    }
    if (!(await customerExists(deps.pool, customerId))) throw new ApiError(404, `No customer with id ${customerId}`);

    const scope = c.get('idempotency')?.scope;
    // With an Idempotency-Key the offer id derives from its claim, so a repeat finds the first offer.
    const offerId = scope ? uuidFromKey(`offer:${customerId}:${scope}`) : randomUUID();
    const workflowId = offerWorkflowId(offerId);
    c.set('workflowId', workflowId);
    const principal = c.get('principal');
    const input: OfferInput = {
      offerId,
      customerId,
      kind: body.kind,
      productId: body.productId,
      price: body.price,
      validUntil: new Date(body.validUntil ? Date.parse(body.validUntil) : now + DEFAULT_OFFER_VALIDITY_DAYS * 86_400_000).toISOString(),
      actor: principal.actor,
    };
    const { handle } = await startOnce<typeof offer>(
      deps.temporal,
      'offer',
      {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: CrmCustomerId, value: customerId },
          { key: CrmProcess, value: CRM_PROCESS.offers },
          { key: CrmStatus, value: 'checking' },
          { key: CrmOfferKind, value: body.kind },
        ],
        staticSummary: `${body.kind} ${body.productId} to customer ${customerId}`,
        staticDetails: `Offer made by user ${principal.actor} (${principal.roles.join(', ')})`,
      },
      c.get('idempotency'),
    );
    const state = await resultWithin(decided(deps, handle, offerId), resultWaitMs(deps));
    if (!state) {
      const statusUrl = `/v1/offers/${offerId}`;
      return c.json({ status: 'pending' as const, workflowId, statusUrl }, 202, { Location: statusUrl });
    }
    if (state.status === 'ineligible') {
      throw new ApiError(422, `The offer is not eligible: ${state.reason ?? state.rule}`, { rule: state.rule, offerId: state.offerId });
    }
    return c.json(state, 201, { Location: `/v1/offers/${state.offerId}` });
  });

  app.openapi(customerOffers, async (c) => {
    const { id } = c.req.valid('param');
    const offers = await listCustomerOffers(deps.pool, id);
    if (!offers) throw new ApiError(404, `No customer with id ${id}`);
    return c.json({ offers }, 200);
  });

  app.openapi(getOffer, async (c) => {
    const { id } = c.req.valid('param');
    const found = await readOffer(deps.pool, id);
    if (!found) throw new ApiError(404, `No offer with id ${id}`);
    return c.json(found, 200);
  });

  app.openapi(respond, async (c) => {
    const { id } = c.req.valid('param');
    const { decision } = c.req.valid('json');
    const process = await offerProcess(deps.pool, id);
    if (!process) throw new ApiError(404, `No offer with id ${id}`);
    const handle = deps.temporal.workflow.getHandle(process.workflowId);
    c.set('workflowId', process.workflowId);
    const verb = decision === 'accept' ? 'accepted' : 'declined';
    try {
      const state = await handle.executeUpdate(offerRespondUpdate, { args: [{ decision, actor: c.get('principal').actor }] });
      return c.json(state, 200);
    } catch (err) {
      if (refusalOf(err) || !isWorkflowGone(err)) throwTemporalProblem(err, { refused: (reason) => `The offer cannot be ${verb}: ${reason}` });
      // The workflow has closed: the outcome is on the row; repeating it is fine, changing it is not.
      const closed = await readOffer(deps.pool, id);
      const same = (closed?.status === 'accepted' && decision === 'accept') || (closed?.status === 'declined' && decision === 'decline');
      if (closed && same) return c.json(closed, 200);
      if (closed) throw new ApiError(409, `The offer cannot be ${verb}: it is ${closed.status}`);
      throw err;
    }
  });

  return app;
}

/**
 * Waits for the eligibility decision. An ineligible offer may already have closed its workflow:
 * then the record answers (the offer row is written with the decision), never the workflow.
 */
async function decided(deps: ApiDeps, handle: WorkflowHandle<typeof offer>, offerId: string): Promise<OfferState | undefined> {
  try {
    return await handle.executeUpdate(offerDecidedUpdate);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw err;
    const recorded = await readOffer(deps.pool, offerId);
    if (recorded) return recorded;
    throw err;
  }
}
