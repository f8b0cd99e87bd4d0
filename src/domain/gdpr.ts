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
export { GDPR_STATUS, type GdprStatus } from './processes.js';

export interface GdprRequestInput {
  requestId: string;
  customerId: string;
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
  customerId: string;
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
export const cancelErasureUpdate = defineUpdate<GdprState, [CancelInput]>('cancelErasure');
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

export interface EraseCustomerResult {
  /** Rows anonymised or deleted per table. */
  rows: Record<string, number>;
}
