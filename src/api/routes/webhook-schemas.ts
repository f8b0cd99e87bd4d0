/**
 * What the webhook routes answer with, and the event catalogue as the OpenAPI document shows it:
 * each event type's envelope as a component (`LeadWonEvent`, …) and as an OpenAPI 3.1 `webhooks`
 * entry (the POST a subscriber receives, with its signature headers). Routes: ./webhooks.ts.
 */
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { DELIVERY_STATUSES, EVENT_TYPES, EVENT_TYPE_NAMES, eventEnvelopeSchema, type EventType } from '../../domain/webhooks.js';
import { uuidSchema } from '../../domain/formats.js';

export const subscriptionSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.enum(EVENT_TYPE_NAMES as [EventType, ...EventType[]])),
    active: z.boolean(),
    deactivatedReason: z.string().nullable().openapi({ description: 'Why it stopped: deactivated by an admin, or the receiver answered 410 Gone' }),
    previousSecretExpiresAt: z.string().nullable().openapi({ description: 'After a rotation: until when the previous secret signs too' }),
    version: z.number().int(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookSubscription');

export const subscriptionWithSecretSchema = subscriptionSchema
  .extend({ secret: z.string().openapi({ description: 'The signing secret (`whsec_…`): shown this once, keep it with the receiver' }) })
  .openapi('WebhookSubscriptionWithSecret');

export const deliverySchema = z
  .object({
    id: z.uuid(),
    eventId: z.uuid().openapi({ description: 'Also the `webhook-id` header the receiver saw' }),
    eventType: z.enum(EVENT_TYPE_NAMES as [EventType, ...EventType[]]),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable().openapi({ description: 'When a pending delivery is tried next (later events of the same customer wait for it)' }),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    lastLatencyMs: z.number().int().nullable(),
    deliveredAt: z.string().nullable(),
    deadLetteredAt: z.string().nullable(),
    createdAt: z.string(),
    attemptLog: z.array(
      z.object({
        at: z.string(),
        statusCode: z.number().int().nullable().openapi({ description: 'null: no answer (refused, timed out)' }),
        latencyMs: z.number().int(),
        error: z.string().nullable(),
      }),
    ),
  })
  .openapi('WebhookDelivery');

export const eventTypeSchema = z
  .object({
    type: z.enum(EVENT_TYPE_NAMES as [EventType, ...EventType[]]),
    version: z.number().int(),
    summary: z.string(),
    personalData: z.string().openapi({ description: 'What of the data could be personal, and why the type needs it' }),
    schema: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema of the POST body (the envelope with its `data`)' }),
  })
  .openapi('WebhookEventType');

export const deliveryIdParams = z.object({
  id: uuidSchema('must be a webhook subscription id (UUID)').openapi({ param: { name: 'id', in: 'path' } }),
  deliveryId: uuidSchema('must be a delivery id (UUID)').openapi({ param: { name: 'deliveryId', in: 'path' } }),
});

/** `lead.won` → `LeadWonEvent`. */
const componentName = (type: EventType) =>
  `${type
    .split(/[._]/)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')}Event`;

/** The catalogue with each type's JSON Schema, as `GET /v1/webhook-event-types` answers it. */
export function eventCatalogue() {
  return EVENT_TYPE_NAMES.map((type) => ({
    type,
    version: EVENT_TYPES[type].version,
    summary: EVENT_TYPES[type].summary,
    personalData: EVENT_TYPES[type].personalData,
    schema: z.toJSONSchema(eventEnvelopeSchema(type), { io: 'output' }) as Record<string, unknown>,
  }));
}

const signatureHeaders = z.object({
  'webhook-id': z.string().openapi({ description: 'The event id: the same on every retry; deduplicate by it' }),
  'webhook-timestamp': z.string().openapi({ description: 'Unix seconds of this attempt; refuse ones far from your clock (replays)' }),
  'webhook-signature': z.string().openapi({
    description: 'Space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per live secret (two during a rotation)',
  }),
});

/** Every event type as a component and as an OpenAPI 3.1 webhook: what a subscriber receives. */
export function registerEventCatalogue(registry: OpenAPIHono['openAPIRegistry']): void {
  for (const type of EVENT_TYPE_NAMES) {
    const schema = registry.register(componentName(type), eventEnvelopeSchema(type).openapi({ description: EVENT_TYPES[type].summary }));
    registry.registerWebhook({
      method: 'post',
      path: type,
      operationId: `on${componentName(type)}`,
      tags: ['webhooks'],
      summary: EVENT_TYPES[type].summary,
      description: `Version ${EVENT_TYPES[type].version}. Personal data: ${EVENT_TYPES[type].personalData}. Signed per Standard Webhooks; answer 2xx within WEBHOOK_TIMEOUT, anything else is retried; 410 Gone deactivates the subscription.`,
      request: { headers: signatureHeaders, body: { content: { 'application/json': { schema } }, required: true } },
      responses: { 200: { description: 'Received (any 2xx)' }, 410: { description: 'Gone: deactivates the subscription' } },
    });
  }
}
