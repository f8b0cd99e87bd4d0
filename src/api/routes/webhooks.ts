/**
 * Webhook subscriptions (admins): which URL receives which event types, signed with which secret;
 * their delivery log, and redelivery of what was dead-lettered. Every change is audited (process
 * `webhooks`, never the secret). Delivery itself is the `webhookDelivery` workflow per subscription.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { inTransaction, type PoolClient } from '../../db/pool.js';
import { writeAudit } from '../../db/repositories/audit-log.js';
import {
  deleteSubscription,
  insertSubscription,
  listDeliveries,
  listSubscriptions,
  readDelivery,
  readSubscription,
  redeliver,
  rotateSecret,
  updateSubscription,
  type Subscription,
} from '../../db/repositories/webhooks.js';
import type { Position } from '../../db/keyset.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import {
  DELIVERY_STATUSES,
  EVENT_TYPE_NAMES,
  WEBHOOK_SECRET_PREFIX,
  newSubscriptionSchema,
  subscriptionPatchSchema,
  webhookSecretSchema,
  type EventType,
} from '../../domain/webhooks.js';
import { wakeDelivery } from '../../worker/webhook-wakeup.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { ApiError } from '../problem.js';
import { uuidParam } from '../schemas.js';
import { baseVersion, ifMatchHeaders, staleVersion } from './user-schemas.js';
import { deliveryIdParams, deliverySchema, eventCatalogue, eventTypeSchema, subscriptionSchema, subscriptionWithSecretSchema } from './webhook-schemas.js';

const admin = requireRole('admin');
const idParam = uuidParam('a webhook subscription');
/** After a rotation the previous secret signs beside the new one this long, so receivers switch without a gap. */
const ROTATION_OVERLAP_MS = 24 * 3_600_000;

const tags = ['webhooks'];

const eventTypesRoute = createRoute({
  method: 'get',
  path: '/v1/webhook-event-types',
  operationId: 'listWebhookEventTypes',
  tags,
  summary: 'The catalogue of event types, with the JSON Schema of each (admins)',
  middleware: [admin] as const,
  responses: { 200: jsonContent(z.object({ items: z.array(eventTypeSchema) }), 'Every event type'), ...problemResponses(401, 403) },
});

const createSubscriptionRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks',
  operationId: 'createWebhook',
  tags,
  summary: 'Subscribe a URL to event types (admins)',
  description:
    'Each event of the types named is POSTed to the URL, signed per Standard Webhooks with the secret (generated unless given, answered this once). ' +
    "One customer's events arrive in order; failures are retried with exponential backoff and dead-lettered after WEBHOOK_DEAD_LETTER_AFTER. " +
    'Only events committed after the subscription are sent.',
  middleware: [admin] as const,
  request: {
    body: jsonBody(newSubscriptionSchema.openapi('NewWebhookSubscription'), {
      url: 'https://billing.example.com/crm-events',
      eventTypes: ['lead.won', 'offer.accepted', 'erasure.completed'],
      description: 'Billing',
    }),
  },
  responses: { 201: jsonContent(subscriptionWithSecretSchema, 'The subscription, with its secret (shown once)'), ...problemResponses(400, 401, 403, 413, 415) },
});

const listSubscriptionsRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks',
  operationId: 'listWebhooks',
  tags,
  summary: 'List webhook subscriptions, oldest first (admins)',
  middleware: [admin] as const,
  request: { query: z.object({ pageSize: pageSizeSchema, pageToken: pageTokenSchema.optional() }) },
  responses: {
    200: jsonContent(z.object({ items: z.array(subscriptionSchema), nextPageToken: z.string().optional() }), 'One page of subscriptions'),
    ...problemResponses(400, 401, 403),
  },
});

const getSubscriptionRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}',
  operationId: 'getWebhook',
  tags,
  summary: 'Read a webhook subscription (admins; never its secret)',
  middleware: [admin] as const,
  request: { params: idParam },
  responses: { 200: jsonContent(subscriptionSchema, 'The subscription'), ...problemResponses(400, 401, 403, 404) },
});

const patchSubscriptionRoute = createRoute({
  method: 'patch',
  path: '/v1/webhooks/{id}',
  operationId: 'updateWebhook',
  tags,
  summary: 'Change a webhook subscription (admins)',
  description:
    'Changes the fields sent, based on the version read (`version` in the body or `If-Match`); another version is a 409 with the current one. ' +
    '`active: false` stops deliveries (pending ones wait); `active: true` resumes them.',
  middleware: [admin] as const,
  request: {
    params: idParam,
    headers: ifMatchHeaders,
    body: jsonBody(subscriptionPatchSchema.openapi('WebhookSubscriptionPatch'), { version: 1, eventTypes: ['lead.won', 'lead.lost'] }),
  },
  responses: { 200: jsonContent(subscriptionSchema, 'The changed subscription'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

const deleteSubscriptionRoute = createRoute({
  method: 'delete',
  path: '/v1/webhooks/{id}',
  operationId: 'deleteWebhook',
  tags,
  summary: 'Delete a webhook subscription with its delivery log (admins)',
  description: 'Nothing more is sent to it; pending deliveries are dropped. To pause instead, PATCH `active: false`.',
  middleware: [admin] as const,
  request: { params: idParam },
  responses: { 200: jsonContent(subscriptionSchema, 'The deleted subscription'), ...problemResponses(400, 401, 403, 404) },
});

const rotateSecretRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/secret',
  operationId: 'rotateWebhookSecret',
  tags,
  summary: 'Rotate the signing secret (admins)',
  description: 'A new secret (generated unless given), answered this once. For 24 hours the previous secret signs too (two signatures per POST).',
  middleware: [admin] as const,
  request: {
    params: idParam,
    body: {
      content: { 'application/json': { schema: z.object({ secret: webhookSecretSchema.optional() }).strict().openapi('WebhookSecretRotation'), example: {} } },
      required: false,
    },
  },
  responses: {
    200: jsonContent(subscriptionWithSecretSchema, 'The subscription with its new secret (shown once)'),
    ...problemResponses(400, 401, 403, 404, 413, 415),
  },
});

const listDeliveriesRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}/deliveries',
  operationId: 'listWebhookDeliveries',
  tags,
  summary: 'The delivery log of a subscription, oldest first, by status and event type (admins)',
  middleware: [admin] as const,
  request: {
    params: idParam,
    query: z.object({
      status: z.enum(DELIVERY_STATUSES, { message: `must be one of ${DELIVERY_STATUSES.join(', ')}` }).optional(),
      eventType: z.enum(EVENT_TYPE_NAMES as [EventType, ...EventType[]], { message: `must be one of ${EVENT_TYPE_NAMES.join(', ')}` }).optional(),
      pageSize: pageSizeSchema,
      pageToken: pageTokenSchema.optional(),
    }),
  },
  responses: {
    200: jsonContent(z.object({ items: z.array(deliverySchema), nextPageToken: z.string().optional() }), 'One page of deliveries with their attempts'),
    ...problemResponses(400, 401, 403, 404),
  },
});

const getDeliveryRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}/deliveries/{deliveryId}',
  operationId: 'getWebhookDelivery',
  tags,
  summary: 'One delivery with its attempts (admins)',
  middleware: [admin] as const,
  request: { params: deliveryIdParams },
  responses: { 200: jsonContent(deliverySchema, 'The delivery'), ...problemResponses(400, 401, 403, 404) },
});

const redeliverOneRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/deliveries/{deliveryId}/redelivery',
  operationId: 'redeliverWebhookDelivery',
  tags,
  summary: 'Send a dead-lettered (or delivered) event again (admins)',
  description: 'The delivery becomes pending, due now, with a fresh dead-letter clock. A pending one is a 409; so is an inactive subscription.',
  middleware: [admin] as const,
  request: { params: deliveryIdParams },
  responses: { 202: jsonContent(deliverySchema, 'The delivery, pending again'), ...problemResponses(400, 401, 403, 404, 409) },
});

const redeliverAllRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/redelivery',
  operationId: 'redeliverDeadLettered',
  tags,
  summary: 'Send every dead-lettered event of a subscription again (admins)',
  description: 'Each dead-lettered delivery becomes pending; they go out in event order per customer. An inactive subscription is a 409.',
  middleware: [admin] as const,
  request: { params: idParam },
  responses: {
    202: jsonContent(z.object({ redelivered: z.number().int().openapi({ description: 'How many deliveries are pending again' }) }), 'Redelivery under way'),
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

function newSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

async function audit(
  db: PoolClient,
  subscription: Subscription,
  actor: string,
  fields: Array<{ field: string; oldValue: unknown; newValue: unknown }>,
  step?: string,
) {
  await writeAudit(
    db,
    { step: step ?? `webhook:${subscription.id}:v${subscription.version}`, actor, process: CRM_PROCESS.webhooks },
    fields.map((f) => ({ ...f, field: `webhook:${subscription.id}:${f.field}` })),
  );
}

export function webhookRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const tokens = pageTokens(deps.pageTokenSecret);

  /** Starts or wakes the delivery workflow; the next event or poll does it anyway if Temporal is away now. */
  const wake = (c: { get(k: 'logger'): ApiEnv['Variables']['logger'] }, id: string) =>
    wakeDelivery(deps.temporal, deps.taskQueue, id).catch((err: unknown) =>
      c.get('logger').warn({ err, subscriptionId: id }, 'could not wake webhook delivery'),
    );

  const existing = async (id: string) => {
    const s = await readSubscription(deps.pool, id);
    if (!s) throw new ApiError(404, `No webhook subscription with id ${id}`);
    return s;
  };

  app.openapi(eventTypesRoute, (c) => c.json({ items: eventCatalogue() }, 200));

  app.openapi(createSubscriptionRoute, async (c) => {
    const body = c.req.valid('json');
    const secret = body.secret ?? newSecret();
    const created = await inTransaction(deps.pool, async (db) => {
      const s = await insertSubscription(db, { ...body, id: randomUUID(), secret, createdBy: c.get('principal').actor });
      const fields = { url: s.url, eventTypes: s.eventTypes, description: s.description, active: s.active };
      await audit(
        db,
        s,
        c.get('principal').actor,
        Object.entries(fields).map(([field, newValue]) => ({ field, oldValue: null, newValue })),
      );
      return s;
    });
    if (created.active) await wake(c, created.id);
    return c.json({ ...created, secret }, 201, { Location: `/v1/webhooks/${created.id}` });
  });

  app.openapi(listSubscriptionsRoute, async (c) => {
    const { pageSize, pageToken } = c.req.valid('query');
    const listing = listingOf('webhooks', {});
    const page = await listSubscriptions(deps.pool, pageToken === undefined ? undefined : tokens.open<Position>(pageToken, listing), pageSize);
    return c.json({ items: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getSubscriptionRoute, async (c) => c.json(await existing(c.req.valid('param').id), 200));

  app.openapi(patchSubscriptionRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { version: _version, ...patch } = c.req.valid('json');
    const version = baseVersion(c, c.req.valid('json'));
    const updated = await inTransaction(deps.pool, async (db) => {
      const current = await readSubscription(db, id, true);
      if (!current) throw new ApiError(404, `No webhook subscription with id ${id}`);
      if (current.version !== version) throw staleVersion('webhook subscription', current.version, version);
      const fields = (Object.keys(patch) as Array<keyof typeof patch>)
        .filter((f) => patch[f] !== undefined && JSON.stringify(patch[f]) !== JSON.stringify(current[f]))
        .map((field) => ({ field, oldValue: current[field], newValue: patch[field] }));
      if (fields.length === 0) return current;
      const next = (await updateSubscription(db, id, { ...patch, ...(patch.active === false ? { deactivatedReason: 'deactivated by an admin' } : {}) }))!;
      await audit(db, next, c.get('principal').actor, fields);
      return next;
    });
    if (updated.active) await wake(c, id);
    return c.json(updated, 200);
  });

  app.openapi(deleteSubscriptionRoute, async (c) => {
    const { id } = c.req.valid('param');
    const deleted = await inTransaction(deps.pool, async (db) => {
      const current = await readSubscription(db, id, true);
      if (!current) throw new ApiError(404, `No webhook subscription with id ${id}`);
      await deleteSubscription(db, id);
      await audit(db, current, c.get('principal').actor, [{ field: 'deleted', oldValue: null, newValue: true }], `webhook:${id}:deleted`);
      return current;
    });
    // The workflow finds the subscription gone on waking and ends.
    await wake(c, id);
    return c.json(deleted, 200);
  });

  app.openapi(rotateSecretRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = (c.req.valid('json') as { secret?: string } | undefined) ?? {};
    const secret = body.secret ?? newSecret();
    const rotated = await inTransaction(deps.pool, async (db) => {
      if (!(await readSubscription(db, id, true))) throw new ApiError(404, `No webhook subscription with id ${id}`);
      const s = (await rotateSecret(db, id, secret, new Date(Date.now() + ROTATION_OVERLAP_MS)))!;
      await audit(db, s, c.get('principal').actor, [{ field: 'secret', oldValue: null, newValue: 'rotated' }]);
      return s;
    });
    return c.json({ ...rotated, secret }, 200);
  });

  app.openapi(listDeliveriesRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { pageSize, pageToken, ...filter } = c.req.valid('query');
    await existing(id);
    const listing = listingOf(`webhook-deliveries:${id}`, filter);
    const page = await listDeliveries(deps.pool, id, filter, pageToken === undefined ? undefined : tokens.open<Position>(pageToken, listing), pageSize);
    return c.json({ items: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getDeliveryRoute, async (c) => {
    const { id, deliveryId } = c.req.valid('param');
    await existing(id);
    const delivery = await readDelivery(deps.pool, id, deliveryId);
    if (!delivery) throw new ApiError(404, `No delivery ${deliveryId} of webhook subscription ${id}`);
    return c.json(delivery, 200);
  });

  app.openapi(redeliverOneRoute, async (c) => {
    const { id, deliveryId } = c.req.valid('param');
    const subscription = await existing(id);
    if (!subscription.active) throw new ApiError(409, `Webhook subscription ${id} is inactive; activate it first (PATCH active: true)`);
    const delivery = await readDelivery(deps.pool, id, deliveryId);
    if (!delivery) throw new ApiError(404, `No delivery ${deliveryId} of webhook subscription ${id}`);
    if (delivery.status === 'pending')
      throw new ApiError(409, `Delivery ${deliveryId} is still pending; it is retried on its own (next at ${delivery.nextAttemptAt})`);
    await redeliver(deps.pool, id, deliveryId);
    // The answer says what was queued (pending, due now), read before the wake can deliver it.
    const queued = (await readDelivery(deps.pool, id, deliveryId))!;
    await wake(c, id);
    return c.json(queued, 202);
  });

  app.openapi(redeliverAllRoute, async (c) => {
    const { id } = c.req.valid('param');
    const subscription = await existing(id);
    if (!subscription.active) throw new ApiError(409, `Webhook subscription ${id} is inactive; activate it first (PATCH active: true)`);
    const redelivered = await redeliver(deps.pool, id);
    if (redelivered > 0) await wake(c, id);
    return c.json({ redelivered }, 202);
  });

  return app;
}
