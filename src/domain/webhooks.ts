/**
 * Outbound events: what other systems (billing, ERP, support desk, a web shop) learn from the CRM
 * the moment it happens, as signed HTTP POSTs to the subscriptions an admin made (Standard
 * Webhooks). Each event type has a version and a schema of its `data`; `data` carries ids and the
 * facts the type needs and never a person's name, e-mail, phone, address or bank account: a
 * subscriber that needs them reads the record through the API with a key of its own.
 *
 * A subscription's delivery workflow (`webhook-<subscription id>`) runs rounds: deliver what is due,
 * one subject (customer, or a lead without one) in order, others side by side; wait for the next
 * event (a `wake` signal on commit) or the next retry; continue-as-new to keep its history short.
 */
import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { LEAD_STAGES, ENROLLMENT_STATUSES } from './processes.js';
import { TASK_KINDS } from './tasks.js';

const id = (what: string) => z.uuid().meta({ description: `The ${what}'s id` });
const at = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });
const stage = z.enum(LEAD_STAGES);
const money = z.number().meta({ description: 'Two decimals at most' });

/**
 * The catalogue: type → current version, schema of `data`, and why its data is what it is (what it
 * holds that could be personal, and why that is needed). The README lists it too.
 */
export const EVENT_TYPES = {
  'customer.registered': {
    version: 1,
    summary: 'A customer was registered (through the API, or a won lead converted).',
    personalData: 'none: ids only; the customer is read through GET /v1/customers/{id}',
    data: z.object({ customerId: id('customer'), leadId: id('lead').nullable().meta({ description: 'The won lead the customer came from, if any' }) }),
  },
  'lead.stage_changed': {
    version: 1,
    summary: 'A lead or opportunity moved to another stage of the funnel.',
    personalData: 'none: ids, stages and the acting user id (the reason, which may quote the person, is left out)',
    data: z.object({
      leadId: id('lead'),
      customerId: id('customer').nullable(),
      from: stage.nullable(),
      to: stage,
      at: at('When it moved'),
      actor: z.string().meta({ description: 'The user id (or `system`) that moved it' }),
    }),
  },
  'lead.won': {
    version: 1,
    summary: 'A lead or opportunity was won: billing and fulfilment start here.',
    personalData: 'none: ids and the deal (amount, currency, products) that billing needs',
    data: z.object({
      leadId: id('lead'),
      customerId: id('customer').nullable(),
      amount: money.nullable(),
      currency: z.string().nullable(),
      productIds: z.array(z.string()),
      at: at('When it was won'),
    }),
  },
  'lead.lost': {
    version: 1,
    summary: 'A lead or opportunity was lost.',
    personalData: 'none: ids and the stage it was lost from (the lost reason is free text that may quote the person, so left out)',
    data: z.object({ leadId: id('lead'), customerId: id('customer').nullable(), from: stage.nullable(), at: at('When it was lost') }),
  },
  'change.applied': {
    version: 1,
    summary: "A master-data change was applied to the customer's record.",
    personalData: "none: which fields changed and the record's new version, never the values (read them from GET /v1/customers/{id})",
    data: z.object({ changeId: id('change'), customerId: id('customer'), fields: z.array(z.string()), customerVersion: z.number().int() }),
  },
  'change.rejected': {
    version: 1,
    summary: 'A master-data change was rejected by its approver.',
    personalData: 'none: ids and the deciding user id (the comment is left out)',
    data: z.object({ changeId: id('change'), customerId: id('customer'), decidedBy: z.string().nullable() }),
  },
  'offer.accepted': {
    version: 1,
    summary: 'The customer accepted an offer: the product is theirs (and replaces the one it upgrades, if any).',
    personalData: 'none: ids, product and price that billing needs',
    data: z.object({
      offerId: id('offer'),
      customerId: id('customer'),
      productId: z.string(),
      price: money,
      replacesProductId: z.string().nullable(),
      at: at('When it was accepted'),
    }),
  },
  'offer.declined': {
    version: 1,
    summary: 'The customer declined an offer.',
    personalData: 'none: ids and the product (the reason is left out)',
    data: z.object({ offerId: id('offer'), customerId: id('customer'), productId: z.string(), at: at('When it was declined') }),
  },
  'erasure.completed': {
    version: 1,
    summary: "A GDPR erasure was carried out: every system holding the customer's data must erase it too.",
    personalData: 'none: ids only (the customer is already anonymised here)',
    data: z.object({ requestId: z.string().meta({ description: 'The GDPR request id' }), customerId: id('customer') }),
  },
  'enrollment.ended': {
    version: 1,
    summary: "A customer's enrollment in a retention campaign ended.",
    personalData: 'none: ids and how it ended',
    data: z.object({ campaignId: z.string(), customerId: id('customer'), runKey: z.string(), status: z.enum(ENROLLMENT_STATUSES) }),
  },
  'task.completed': {
    version: 1,
    summary: 'A task was completed by its owner.',
    personalData: 'none: ids, the kind and the acting user id (the outcome text is left out)',
    data: z.object({
      taskId: id('task'),
      kind: z.enum(TASK_KINDS),
      customerId: id('customer').nullable(),
      leadId: id('lead').nullable(),
      completedBy: z.string(),
    }),
  },
} as const;

export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof EVENT_TYPES)[T]['data']>;

/** The body of every POST: Standard Webhooks' `type`, `timestamp`, `data`, with the event's id and version. */
export function eventEnvelopeSchema<T extends EventType>(type: T) {
  return z.object({
    id: z.uuid().meta({ description: 'The event id; also the `webhook-id` header, the same on every retry (deduplicate by it)' }),
    type: z.literal(type),
    version: z.literal(EVENT_TYPES[type].version),
    timestamp: at('When the effect was committed'),
    data: EVENT_TYPES[type].data,
  });
}

// Subscriptions -----------------------------------------------------------------------------------

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

const urlSchema = z
  .string()
  .trim()
  .max(2000, 'has at most 2000 characters')
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL')
  .meta({ format: 'uri', example: 'https://billing.example.com/crm-events' });

const eventTypesSchema = z
  .array(z.enum(EVENT_TYPE_NAMES as [EventType, ...EventType[]], { message: `must be one of ${EVENT_TYPE_NAMES.join(', ')}` }))
  .min(1, 'name at least one event type')
  .max(EVENT_TYPE_NAMES.length)
  .refine((types) => new Set(types).size === types.length, 'names an event type twice');

/** A Standard Webhooks secret: `whsec_` and base64 of 24 to 64 random bytes. */
export const webhookSecretSchema = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be `whsec_` followed by base64 of 24 to 64 bytes')
  .refine((v) => {
    // workflow-safe (no Buffer): the decoded length of the base64 body
    const bytes = Math.floor((v.slice(WEBHOOK_SECRET_PREFIX.length).replace(/=+$/, '').length * 3) / 4);
    return bytes >= 24 && bytes <= 64;
  }, 'must be `whsec_` followed by base64 of 24 to 64 bytes');

export const newSubscriptionSchema = z
  .object({
    url: urlSchema,
    eventTypes: eventTypesSchema,
    description: z.string().trim().max(500, 'has at most 500 characters').optional(),
    secret: webhookSecretSchema.optional().meta({ description: 'Your own signing secret; one is generated when left out' }),
    active: z.boolean().optional(),
  })
  .strict();
export type NewSubscription = z.infer<typeof newSubscriptionSchema>;

export const subscriptionPatchSchema = z
  .object({
    version: z.number().int().min(1).optional(),
    url: urlSchema.optional(),
    eventTypes: eventTypesSchema.optional(),
    description: z.string().trim().max(500, 'has at most 500 characters').nullable().optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type SubscriptionPatch = z.infer<typeof subscriptionPatchSchema>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead-lettered'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

// The delivery workflow ---------------------------------------------------------------------------

export function webhookWorkflowId(subscriptionId: string): string {
  return `webhook-${subscriptionId}`;
}

export interface WebhookDeliveryInput {
  subscriptionId: string;
}

/** One round of deliveries, as the activity reports it to the workflow. */
export interface DeliveryRound {
  /** `gone`: deleted; `inactive`: deactivated (by an admin, or a 410 Gone). Either ends the workflow. */
  subscription: 'active' | 'inactive' | 'gone';
  delivered: number;
  failed: number;
  deadLettered: number;
  /** More is due right now (the round stopped at its size). */
  more: boolean;
  /** How long until the earliest retry is due; null when nothing waits. */
  nextDueInMs: number | null;
  /** The fallback wait when no signal comes (WEBHOOK_POLL_INTERVAL). */
  pollMs: number;
}

/** New deliveries, a redelivery or a reactivation: deliver what is due now. */
export const wakeSignal = defineSignal<[]>('wake');
