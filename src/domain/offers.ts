/**
 * Offers: the contract between the API, the `offer` workflow and its activities, and the product
 * catalogue they sell from. An offer is decided by rule (upsell, cross-sell, downsell), goes out
 * through the outbox, and waits for the customer's answer until it expires.
 */
import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Transition } from './customers.js';
import { dateTimeSchema } from './formats.js';
import { OFFER_KINDS, type OfferKind, type OfferStatus } from './processes.js';

export { OFFER_KIND, OFFER_KINDS, OFFER_STATUS, FINAL_OFFER_STATUSES, type OfferKind, type OfferStatus } from './processes.js';

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{1,63}$/, 'must be 2 to 64 characters of a-z, 0-9 and -, starting with a letter or digit');
const price = z
  .number()
  .min(0, 'must not be negative')
  .max(100_000, 'must be at most 100000')
  .multipleOf(0.01, 'has at most two decimals')
  .meta({ multipleOf: 0.01 });

export const productIdSchema = slug;

export const productCreateSchema = z
  .object({
    id: slug,
    name: z.string().trim().min(1, 'must not be empty').max(200).meta({ pattern: '\\S' }),
    category: slug,
    tier: z.number().int().min(1).max(10),
    price,
    active: z.boolean().default(true),
  })
  .strict();
export type ProductCreate = z.infer<typeof productCreateSchema>;

export const productPatchSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(200).meta({ pattern: '\\S' }).optional(),
    tier: z.number().int().min(1).max(10).optional(),
    price: price.optional(),
    active: z.boolean().optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'name at least one field to change')
  .meta({ minProperties: 1 });
export type ProductPatch = z.infer<typeof productPatchSchema>;

export interface Product {
  id: string;
  name: string;
  category: string;
  tier: number;
  price: number;
  active: boolean;
}

/** How long an offer stays open when the request does not say. */
export const DEFAULT_OFFER_VALIDITY_DAYS = 14;
export const MAX_OFFER_VALIDITY_DAYS = 90;

export const offerRequestSchema = z
  .object({
    kind: z.enum(OFFER_KINDS, { message: `must be one of ${OFFER_KINDS.join(', ')}` }),
    productId: slug,
    price: price.optional(),
    validUntil: dateTimeSchema('must be an ISO 8601 date-time with offset, e.g. 2026-12-31T23:59:59Z')
      .meta({ description: `In the future and at most ${MAX_OFFER_VALIDITY_DAYS} days ahead; default ${DEFAULT_OFFER_VALIDITY_DAYS} days` })
      .optional(),
  })
  .strict();
export type OfferRequest = z.infer<typeof offerRequestSchema>;

export const OFFER_DECISIONS = ['accept', 'decline'] as const;
export const offerResponseSchema = z.object({ decision: z.enum(OFFER_DECISIONS, { message: 'must be accept or decline' }) }).strict();
export type OfferDecision = (typeof OFFER_DECISIONS)[number];

/**
 * The rules an offer must pass, named as the API reports them in a 422.
 * Every kind: the customer is active and may be contacted, the product is on sale, no open offer
 * of the same product is waiting. Then per kind the rule of the issue.
 */
export const ELIGIBILITY_RULES = {
  'customer-active': 'the customer must be active',
  'contact-allowed': 'the customer must not be suppressed (opt-out, erasure requested, open complaint) and must have agreed to offers by e-mail',
  'product-on-sale': 'the product must exist and be active',
  'no-open-offer': 'no other open offer of this product may be waiting for this customer',
  'upsell-higher-tier-in-owned-category': 'upsell: a higher tier in a category the customer owns',
  'cross-sell-complementary-category-not-owned': 'cross-sell: a category complementary to one the customer owns, and not owned yet',
  'downsell-lower-tier-for-customer-at-risk': 'downsell: a lower tier in an owned category, for a customer at churn risk or asking to cancel',
} as const;
export type EligibilityRule = keyof typeof ELIGIBILITY_RULES;

/** A customer at or above this churn-risk score, or who asked to cancel within the window, may be offered a downsell. */
export const DOWNSELL_CHURN_RISK_THRESHOLD = 0.7;
export const CANCELLATION_REQUEST_WINDOW_DAYS = 30;

/** Contact rules a campaign's offer keeps like its messages; an agent's offer has none. */
export interface ContactRules {
  quietHours?: QuietHours;
  maxMessagesPerWeek?: number;
  /** Used where the customer has no time zone of their own. */
  timezone: string;
}

export interface QuietHours {
  /** local time "HH:MM"; the window may wrap midnight (21:00 to 08:00) */
  start: string;
  end: string;
}

export interface OfferInput {
  offerId: string;
  customerId: string;
  kind: OfferKind;
  productId: string;
  price?: number;
  validUntil: string;
  actor: string;
  campaignId?: string;
  contactRules?: ContactRules;
}

export interface OfferState {
  offerId: string;
  customerId: string;
  kind: OfferKind;
  productId: string;
  replacesProductId: string | null;
  price: number | null;
  validUntil: string;
  status: OfferStatus;
  rule?: EligibilityRule;
  reason?: string;
  campaignId?: string;
  transitions: Transition[];
  /** The follow-up task of an offer a person made: who has it, and how it ended (a person's outcome, or closed with the offer). */
  followUp?: { taskId: string; open: boolean; doneAt?: string; outcome?: string; actor?: string };
}

export type OfferResult = Pick<OfferState, 'offerId' | 'status' | 'rule' | 'reason'>;

export const offerStateQuery = defineQuery<OfferState>('state');
/** Waits until eligibility is decided and answers the state: the API's synchronous 201 or 422. */
export const offerDecidedUpdate = defineUpdate<OfferState>('decided');
export const offerRespondUpdate = defineUpdate<OfferState, [{ decision: OfferDecision; actor: string }]>('respond');

export function offerWorkflowId(offerId: string): string {
  return `offer-${offerId}`;
}

export type EligibilityVerdict =
  { eligible: true; replacesProductId: string | null; price: number; productName: string } | { eligible: false; rule: EligibilityRule; reason: string };

export type PresentOutcome =
  | { outcome: 'presented'; messageId: string }
  | { outcome: 'deferred'; why: 'quiet-hours' | 'frequency-cap'; resumeAt: string }
  | { outcome: 'suppressed'; reason: string };
