/**
 * Business refusals: the `type` of the non-retryable `ApplicationFailure` a workflow's update
 * validator (or handler) throws when it refuses a request. The API turns each type into one HTTP
 * status (src/api/temporal-errors.ts); the message is for people and is never parsed.
 */
import { ApplicationFailure } from '@temporalio/common';

export const REFUSAL = {
  /** The thing the request names is not part of this process (404). */
  notFound: 'NotFound',
  /** The process is not in a state that allows the request (409). */
  conflict: 'Conflict',
  /** The person may not do this here, e.g. approve their own change (403). */
  forbidden: 'Forbidden',
  /** The request itself is wrong, whatever the state (400). */
  invalidInput: 'InvalidInput',
  /** The time for the request has passed (409). */
  expired: 'Expired',
  /** A limit of attempts or resends is reached, or it is too early to try again (429). */
  tooManyAttempts: 'TooManyAttempts',
} as const;
export type RefusalType = (typeof REFUSAL)[keyof typeof REFUSAL];

/** Refuses a request with a typed, non-retryable failure. */
export function refuse(type: RefusalType, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

/**
 * Failures no retry can mend, raised by activities: the record they need is gone or never was, or
 * the outside world said no for good (a gateway's 4xx for a number). Each is a non-retryable
 * `ApplicationFailure` of its type, and every proxy names the types its activities raise in
 * `nonRetryableErrorTypes` too, so a retry policy never meets one twice.
 */
export const PERMANENT_FAILURE = {
  /** The message's row is not in the outbox. */
  messageNotFound: 'MessageNotFound',
  /** The recipient was erased (GDPR) while the message waited: there is nobody to send it to. */
  recipientErased: 'RecipientErased',
  /** The transport refused the address or number itself (SMTP 5xx for a mailbox, a gateway's 4xx). */
  recipientInvalid: 'RecipientInvalid',
  /** No transport is configured for the message's channel (refused at worker start; here for a message from before). */
  noTransport: 'NoTransport',
  customerNotFound: 'CustomerNotFound',
  customerGone: 'CustomerGone',
  customerErased: 'CustomerErased',
  leadNotFound: 'LeadNotFound',
  taskNotFound: 'TaskNotFound',
  offerNotFound: 'OfferNotFound',
  campaignNotFound: 'CampaignNotFound',
  productNotFound: 'ProductNotFound',
} as const;
export type PermanentFailureType = (typeof PERMANENT_FAILURE)[keyof typeof PERMANENT_FAILURE];

/** What makes a message undeliverable (the outbox's reason and the delivery workflow's end). */
export const UNDELIVERABLE_TYPES = [
  PERMANENT_FAILURE.messageNotFound,
  PERMANENT_FAILURE.recipientErased,
  PERMANENT_FAILURE.recipientInvalid,
  PERMANENT_FAILURE.noTransport,
] as const;

/**
 * Every refusal type and the business failures of the record: what a workflow's activity proxy
 * lists as non-retryable (with its own types), so that a refused rule or a missing row ends the
 * step at once instead of retrying it.
 */
export const NON_RETRYABLE_TYPES: readonly string[] = [...Object.values(REFUSAL), ...Object.values(PERMANENT_FAILURE)];

/** A failure no retry can mend, typed. */
export function permanentFailure(type: PermanentFailureType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** Whether an error (an activity's own, or a failure the SDK handed back) is one no retry mends. */
export function isPermanent(err: unknown): boolean {
  for (let e = err as { nonRetryable?: boolean; type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.nonRetryable === true) return true;
    if (typeof e.type === 'string' && NON_RETRYABLE_TYPES.includes(e.type)) return true;
  }
  return false;
}
