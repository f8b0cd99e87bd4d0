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
