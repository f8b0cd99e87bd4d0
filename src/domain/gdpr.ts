/**
 * GDPR requests of a customer, a process of its own: a copy of their data (`gdprExport`,
 * Art. 15/20) and its erasure (`gdprErasure`, Art. 17). The contract between the API, the
 * workflows (workflows/gdpr.ts) and their activities (activities/gdpr.ts). Both requests are
 * confirmed with a code, as master-data changes are, and share their verification types and policy.
 */
import { z } from 'zod';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CancelInput, MasterDataPolicy, ResendInput, Transition, VerificationView, VerifyInput, VerifyResult } from './master-data.js';
import type { GdprStatus } from './processes.js';

export type GdprKind = 'export' | 'erasure';
export type GdprSubject = 'customer' | 'lead';
export { GDPR_STATUS, type GdprStatus } from './processes.js';

export interface GdprRequestInput {
  requestId: string;
  /** The customer the request is about; absent when the person is known only as a lead. */
  customerId?: string;
  /**
   * A lead-only person's request: the e-mail address (normalised) it is about. The code goes to
   * it only when leads of no customer are held under it; the request runs the same either way.
   */
  email?: string;
  requestedBy: string;
  /**
   * Only in runs started before the policy became the worker's (their histories still carry it);
   * new requests leave it out and the workflow asks the worker once.
   */
  policy?: MasterDataPolicy;
}

/** A request with the policy it runs under, carried or asked of the worker. */
export type GdprRequest = GdprRequestInput & { policy: MasterDataPolicy };

export interface GdprState {
  requestId: string;
  kind: GdprKind;
  /** Absent for a lead-only person's request (`subject: 'lead'`). */
  customerId?: string;
  /** Whom the request is about: a customer, or a person known only as a lead by e-mail. Absent in runs before leads had requests. */
  subject?: GdprSubject;
  status: GdprStatus;
  requestedBy: string;
  verification?: VerificationView;
  /** Erasure: when the grace period ends. Export: until when the export can be fetched. */
  dueAt?: string;
  exportBytes?: number;
  erasedRows?: Record<string, number>;
  transitions: Transition[];
}

export const verifyGdprUpdate = defineUpdate<VerifyResult, [VerifyInput]>('verifyGdprRequest');
export const resendGdprCodeUpdate = defineUpdate<VerificationView, [ResendInput]>('resendGdprCode');
/** `via: 'customer-link'`: the person's own cancellation through the link of the "scheduled" message. */
export const cancelErasureUpdate = defineUpdate<GdprState, [CancelInput & { via?: 'customer-link' }]>('cancelErasure');
/** Why staff cannot cancel an erasure the person confirmed (a takeover must not undo it either way). */
export const ERASURE_VERIFIED_CANCEL =
  'the customer confirmed this erasure with the code sent to their contact point, so only they can cancel it: through the cancellation link in the "Your data will be erased" message';
export const exportRetrievedSignal = defineSignal<[{ actor: string }]>('exportRetrieved');
export const gdprStateQuery = defineQuery<GdprState>('state');

/** Request ids carry their kind: `export-<uuid>`, `erasure-<customerId>` (one erasure per customer at a time). */
export const gdprRequestIdSchema = z
  .string()
  .regex(/^(export-[0-9a-f-]{36}|erasure-[0-9a-f-]{36})$/, 'must be a GDPR request id (export-<uuid> or erasure-<uuid>)');

export function gdprWorkflowId(requestId: string): string {
  return `gdpr-${requestId}`;
}

export function gdprKindOf(requestId: string): GdprKind {
  return requestId.startsWith('export-') ? 'export' : 'erasure';
}

/**
 * Ends a running lead funnel because the person's data is being erased: the funnel closes as lost
 * with the reason `erased` (recorded in its timeline and history) and answers with its last stage.
 * Sent by the erasure before it anonymises the lead, so the funnel writes nothing afterwards.
 */
export const eraseLeadUpdate = defineUpdate<{ stage: string }, [{ requestId: string; actor: string }]>('eraseLead');
export const LEAD_ERASED_REASON = 'erased';
/** Why the running processes of an erased customer ended (audit log, Temporal's termination reason). */
export const ERASED_PROCESS_REASON = 'erased';

export interface EraseCustomerResult {
  /** Rows anonymised or deleted per table. */
  rows: Record<string, number>;
}
