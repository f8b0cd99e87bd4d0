/**
 * The product catalogue (operational reads for everyone, writes for admins), the products a
 * customer owns, and offers: POST starts the `offer` workflow and answers once eligibility is
 * decided (201, or 422 naming the rule), the response is the workflow's `respond` Update.
 */
import { createHash, randomUUID } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  DEFAULT_OFFER_VALIDITY_DAYS,
  MAX_OFFER_VALIDITY_DAYS,
  OFFER_KINDS,
  offerDecidedUpdate,
  offerRequestSchema,
  offerRespondUpdate,
  offerResponseSchema,
  offerStateQuery,
  offerWorkflowId,
  productCreateSchema,
  productIdSchema,
  productPatchSchema,
  type OfferInput,
  type OfferState,
  type Product,
} from '../../domain/offers.js';
import { CrmCustomerId, CrmOfferKind, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import type { offer } from '../../../workflows/offers.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { idempotencyKeySchema, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { listCustomerOffers, offerProcess, readOffer } from '../../db/repositories/offers.js';
import { jsonBody, jsonContent, problemResponses, problemSchema } from '../openapi.js';
import { uuidSchema } from '../../domain/formats.js';

const OPERATIONAL = ['agent', 'backoffice', 'admin'] as const;

export const productSchema = z
  .object({ id: z.string(), name: z.string(), category: z.string(), tier: z.number().int(), price: z.number(), active: z.boolean() })
  .openapi('Product');

const ownedProductSchema = z
  .object({
    productId: z.string(),
    name: z.string(),
    category: z.string(),
    tier: z.number().int(),
    price: z.number(),
    source: z.string(),
    sourceId: z.string().nullable(),
    acquiredAt: z.string(),
    endedAt: z.string().nullable(),
    endedReason: z.string().nullable(),
  })
  .openapi('OwnedProduct');

const transitionSchema = z.object({ status: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() });
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

const idParam = (what: string) => z.object({ id: uuidSchema(`must be ${what} id (UUID)`).openapi({ param: { name: 'id', in: 'path' } }) });
const productParam = z.object({ id: productIdSchema.openapi({ param: { name: 'id', in: 'path' } }) });

const listProducts = createRoute({
  method: 'get',
  path: '/v1/products',
  operationId: 'listProducts',
  tags: ['offers'],
  summary: 'The product catalogue',
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: {
    query: z.object({
      category: productIdSchema.optional(),
      includeInactive: z.enum(['true', 'false']).optional(),
    }),
  },
  responses: { 200: jsonContent(z.object({ products: z.array(productSchema) }), 'Products by category and tier'), ...problemResponses(400, 401, 403) },
});

const getProduct = createRoute({
  method: 'get',
  path: '/v1/products/{id}',
  operationId: 'getProduct',
  tags: ['offers'],
  summary: 'One product',
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: { params: productParam },
  responses: { 200: jsonContent(productSchema, 'The product'), ...problemResponses(400, 401, 403, 404) },
});

const createProduct = createRoute({
  method: 'post',
  path: '/v1/products',
  operationId: 'createProduct',
  tags: ['offers'],
  summary: 'Add a product to the catalogue (admin)',
  middleware: [requireRole('admin')] as const,
  request: { body: jsonBody(productCreateSchema.openapi('ProductCreate'), { id: 'crm-pro', name: 'CRM Pro', category: 'crm', tier: 2, price: 49.9, active: true }) },
  responses: { 201: jsonContent(productSchema, 'Created'), ...problemResponses(400, 401, 403, 409, 413, 415) },
});

const patchProduct = createRoute({
  method: 'patch',
  path: '/v1/products/{id}',
  operationId: 'updateProduct',
  tags: ['offers'],
  summary: 'Change a product: name, tier, price, or take it off sale (admin)',
  middleware: [requireRole('admin')] as const,
  request: { params: productParam, body: jsonBody(productPatchSchema.openapi('ProductPatch'), { price: 59.9 }) },
  responses: { 200: jsonContent(productSchema, 'Changed'), ...problemResponses(400, 401, 403, 404, 413, 415) },
});

const customerProducts = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/products',
  operationId: 'listCustomerProducts',
  tags: ['offers'],
  summary: "The customer's products: owned now, and ended ones with the reason",
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: { params: idParam('a customer') },
  responses: {
    200: jsonContent(z.object({ owned: z.array(ownedProductSchema), ended: z.array(ownedProductSchema) }), 'Products'),
    ...problemResponses(400, 401, 403, 404),
  },
});

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
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: {
    params: idParam('a customer'),
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(offerRequestSchema.openapi('OfferRequest'), { kind: 'upsell', productId: 'crm-pro' }),
  },
  responses: {
    201: jsonContent(offerStateSchema, 'The offer was made'),
    202: jsonContent(z.object({ status: z.literal('pending'), workflowId: z.string(), statusUrl: z.string() }), 'Accepted, eligibility still being decided'),
    422: {
      content: { 'application/problem+json': { schema: problemSchema.extend({ rule: z.string().optional(), offerId: z.string().optional() }) } },
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
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: { params: idParam('a customer') },
  responses: { 200: jsonContent(z.object({ offers: z.array(offerRowSchema) }), 'Offers'), ...problemResponses(400, 401, 403, 404) },
});

const getOffer = createRoute({
  method: 'get',
  path: '/v1/offers/{id}',
  operationId: 'getOffer',
  tags: ['offers'],
  summary: 'An offer and its transitions: who answered, when',
  description: 'Read from PostgreSQL: answers the same once the offer workflow is gone or while no worker runs.',
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: { params: idParam('an offer') },
  responses: { 200: jsonContent(offerStateSchema, 'The offer'), ...problemResponses(400, 401, 403, 404) },
});

const respond = createRoute({
  method: 'post',
  path: '/v1/offers/{id}/response',
  operationId: 'answerOffer',
  tags: ['offers'],
  summary: "Record the customer's answer: accept or decline",
  description: 'An Update of the `offer` workflow. Repeating the same answer returns the same result; a different answer after one was given, or an answer to an expired offer, is a 409.',
  middleware: [requireRole(...OPERATIONAL)] as const,
  request: { params: idParam('an offer'), body: jsonBody(offerResponseSchema.openapi('OfferResponse'), { decision: 'accept' }) },
  responses: { 200: jsonContent(offerStateSchema, 'The offer after the answer'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

interface ProductRow {
  id: string;
  name: string;
  category: string;
  tier: number;
  price: string;
  active: boolean;
}
const toProduct = (r: ProductRow): Product => ({ id: r.id, name: r.name, category: r.category, tier: r.tier, price: Number(r.price), active: r.active });

async function customerExists(deps: ApiDeps, id: string): Promise<boolean> {
  const { rows } = await deps.pool.query('SELECT 1 FROM customers WHERE id = $1', [id]);
  return rows.length > 0;
}

/** An Update refused by its validator (or failed in its handler) carries the reason in its cause. */
function updateRefusal(err: unknown): string | undefined {
  if (err instanceof WorkflowUpdateFailedError) return (err.cause as Error | undefined)?.message ?? err.message;
  return undefined;
}

export function offerRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(listProducts, async (c) => {
    const { category, includeInactive } = c.req.valid('query');
    const { rows } = await deps.pool.query<ProductRow>(
      'SELECT id, name, category, tier, price, active FROM products WHERE ($1::text IS NULL OR category = $1) AND ($2 OR active) ORDER BY category, tier, id',
      [category ?? null, includeInactive === 'true'],
    );
    return c.json({ products: rows.map(toProduct) }, 200);
  });

  app.openapi(getProduct, async (c) => {
    const { id } = c.req.valid('param');
    const { rows } = await deps.pool.query<ProductRow>('SELECT id, name, category, tier, price, active FROM products WHERE id = $1', [id]);
    if (!rows[0]) throw new ApiError(404, `No product ${id}`);
    return c.json(toProduct(rows[0]), 200);
  });

  app.openapi(createProduct, async (c) => {
    const p = c.req.valid('json');
    const { rows } = await deps.pool.query<ProductRow>(
      `INSERT INTO products (id, name, category, tier, price, active) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO NOTHING RETURNING id, name, category, tier, price, active`,
      [p.id, p.name, p.category, p.tier, p.price, p.active],
    );
    if (!rows[0]) throw new ApiError(409, `A product ${p.id} already exists`);
    return c.json(toProduct(rows[0]), 201, { Location: `/v1/products/${p.id}` });
  });

  app.openapi(patchProduct, async (c) => {
    const { id } = c.req.valid('param');
    const p = c.req.valid('json');
    const { rows } = await deps.pool.query<ProductRow>(
      `UPDATE products SET name = COALESCE($2, name), tier = COALESCE($3, tier), price = COALESCE($4, price), active = COALESCE($5, active), updated_at = now()
       WHERE id = $1 RETURNING id, name, category, tier, price, active`,
      [id, p.name ?? null, p.tier ?? null, p.price ?? null, p.active ?? null],
    );
    if (!rows[0]) throw new ApiError(404, `No product ${id}`);
    return c.json(toProduct(rows[0]), 200);
  });

  app.openapi(customerProducts, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await customerExists(deps, id))) throw new ApiError(404, `No customer with id ${id}`);
    const { rows } = await deps.pool.query<ProductRow & { source: string; source_id: string | null; acquired_at: Date; ended_at: Date | null; ended_reason: string | null; paid: string }>(
      `SELECT p.id, p.name, p.category, p.tier, cp.price AS paid, cp.source, cp.source_id, cp.acquired_at, cp.ended_at, cp.ended_reason
       FROM customer_products cp JOIN products p ON p.id = cp.product_id WHERE cp.customer_id = $1 ORDER BY cp.acquired_at DESC, cp.id DESC`,
      [id],
    );
    const all = rows.map((r) => ({
      productId: r.id, name: r.name, category: r.category, tier: r.tier, price: Number(r.paid), source: r.source, sourceId: r.source_id,
      acquiredAt: r.acquired_at.toISOString(), endedAt: r.ended_at?.toISOString() ?? null, endedReason: r.ended_reason,
    }));
    return c.json({ owned: all.filter((p) => !p.endedAt), ended: all.filter((p) => p.endedAt) }, 200);
  });

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
        throw new ApiError(400, `Invalid request: body.validUntil: ${problems.join('; ')}`, { errors: problems.map((message) => ({ path: 'body.validUntil', message, code: 'custom' })) });
      }
    }
    if (!(await customerExists(deps, customerId))) throw new ApiError(404, `No customer with id ${customerId}`);

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
          { key: CrmProcess, value: 'offers' },
          { key: CrmStatus, value: 'checking' },
          { key: CrmOfferKind, value: body.kind },
        ],
        staticSummary: `${body.kind} ${body.productId} to customer ${customerId}`,
        staticDetails: `Offer made by ${principal.actor} (${principal.role})`,
      },
      c.get('idempotency'),
    );
    const state = await resultWithin(decided(handle), deps.resultWaitMs ?? 10_000);
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
    try {
      const state = await handle.executeUpdate(offerRespondUpdate, { args: [{ decision, actor: c.get('principal').actor }] });
      return c.json(state, 200);
    } catch (err) {
      const refusal = updateRefusal(err);
      if (refusal) throw new ApiError(409, `The offer cannot be ${decision === 'accept' ? 'accepted' : 'declined'}: ${refusal}`);
      // The workflow has closed: the outcome is on the row; repeating it is fine, changing it is not.
      const closed = await readOffer(deps.pool, id);
      const same = (closed?.status === 'accepted' && decision === 'accept') || (closed?.status === 'declined' && decision === 'decline');
      if (closed && same) return c.json(closed, 200);
      if (closed) throw new ApiError(409, `The offer cannot be ${decision === 'accept' ? 'accepted' : 'declined'}: it is ${closed.status}`);
      throw err;
    }
  });

  return app;
}

/** Waits for the eligibility decision; an ineligible offer may already have closed its workflow. */
async function decided(handle: { executeUpdate: (def: typeof offerDecidedUpdate) => Promise<OfferState>; query: (def: typeof offerStateQuery) => Promise<OfferState> }): Promise<OfferState> {
  try {
    return await handle.executeUpdate(offerDecidedUpdate);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw err;
    return handle.query(offerStateQuery);
  }
}

/** A stable UUID (version-4 layout) from an Idempotency-Key. */
export function uuidFromKey(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
