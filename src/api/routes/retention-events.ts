/**
 * What retention learns of a customer: events (purchase, login, complaint, opt-out, cancellation
 * request) start the short `recordCustomerEvent` workflow, which tells the customer's enrollments;
 * the retention profile (churn risk, time zone) is set on the record, audited.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { customerEventRequestSchema, customerEventWorkflowId, timeZoneSchema, type CustomerEventInput } from '../../domain/retention.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import type { recordCustomerEvent } from '../../../workflows/retention.js';
import { BACKOFFICE_ROLES, OPERATIONAL_ROLES, requireRole } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema, newKey, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { customerExists, updateRetentionProfile } from '../../db/repositories/customers.js';
import { readProduct } from '../../db/repositories/products.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';
import { baseVersion, ifMatchHeaders, staleVersion } from './user-schemas.js';

const postEvent = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/events',
  operationId: 'recordCustomerEvent',
  tags: ['retention'],
  summary: 'Record a customer event: purchase, login, complaint, opt-out, cancellation request',
  description:
    'Starts `recordCustomerEvent`: the event is stored; an opt-out or complaint suppresses promotional contact; a purchase of a product adds it to the ' +
    "customer's products. The customer's running enrollments are told at once: a goal event ends them as goal-met, an opt-out or complaint ends them.",
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    params: customerIdParam,
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
    version: z.number().int().min(1).optional().openapi({ description: "The customer's version the change is based on; or send it as `If-Match`" }),
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
  description:
    "Both are audited. null clears a value: an unscored customer is never at churn risk; without a time zone the campaign's applies. " +
    "Based on the customer's version read (`version` in the body or `If-Match`): another version is a 409 with the current one; an erased customer is a 409.",
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
  request: {
    params: customerIdParam,
    headers: ifMatchHeaders,
    body: jsonBody(retentionProfileSchema.openapi('RetentionProfile'), { churnRisk: 0.35, timezone: 'Europe/Berlin', version: 3 }),
  },
  responses: {
    200: jsonContent(
      z.object({ customerId: z.string(), churnRisk: z.number().nullable(), timezone: z.string().nullable(), version: z.number().int() }),
      "The profile after the change, and the customer's new version",
    ),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

export function retentionEventRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(postEvent, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const occurredAt = body.occurredAt ? new Date(body.occurredAt) : new Date();
    if (occurredAt.getTime() > Date.now() + 5 * 60_000) {
      throw new ApiError(400, 'Invalid request: body.occurredAt: must not be in the future', {
        errors: [{ path: 'body.occurredAt', message: 'must not be in the future', code: 'custom' }],
      });
    }
    if (!(await customerExists(deps.pool, customerId))) throw new ApiError(404, `No customer with id ${customerId}`);
    if (body.productId) {
      if (!(await readProduct(deps.pool, body.productId)))
        throw new ApiError(400, `Invalid request: body.productId: no product ${body.productId}`, {
          errors: [{ path: 'body.productId', message: `no product ${body.productId}`, code: 'custom' }],
        });
    }
    const workflowId = customerEventWorkflowId(`${customerId}-${c.get('idempotency')?.scope ?? newKey()}`);
    c.set('workflowId', workflowId);
    const input: CustomerEventInput = {
      eventId: crypto.randomUUID(),
      customerId,
      event: { ...body, occurredAt: occurredAt.toISOString() },
      actor: c.get('principal').actor,
    };
    const { handle } = await startOnce<typeof recordCustomerEvent>(
      deps.temporal,
      'recordCustomerEvent',
      {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: CrmCustomerId, value: customerId },
          { key: CrmProcess, value: CRM_PROCESS.retention },
          { key: CrmStatus, value: body.type },
        ],
        staticSummary: `Customer event ${body.type}`,
      },
      c.get('idempotency'),
    );
    const result = await resultWithin(handle.result(), resultWaitMs(deps));
    if (!result) return c.json({ status: 'pending' as const, workflowId }, 202);
    return c.json(result, 201);
  });

  app.openapi(patchProfile, async (c) => {
    const { id } = c.req.valid('param');
    const { version: _based, ...change } = c.req.valid('json');
    const expectedVersion = baseVersion(c, c.req.valid('json'));
    const result = await updateRetentionProfile(deps.pool, {
      customerId: id,
      change,
      expectedVersion,
      actor: c.get('principal').actor,
      // The server's own request id: unique per request, whatever a client sends as X-Request-Id.
      step: `retention-profile:${c.get('requestId')}`,
    });
    if (!result) throw new ApiError(404, `No customer with id ${id}`);
    if ('erased' in result) throw new ApiError(409, `Customer ${id} is erased: nothing is written to it again`);
    if ('stale' in result) throw staleVersion('customer', result.stale, expectedVersion);
    return c.json({ customerId: id, ...result.profile, version: result.version }, 200);
  });

  return app;
}
