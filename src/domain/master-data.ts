/**
 * Master-data changes: the contract between the API, the workflow (`customerMasterData`) and its
 * activities. The verification types and the policy here are shared with GDPR requests
 * (src/domain/gdpr.ts), which are confirmed with codes the same way.
 *
 * A change request names new values for some fields. Which checks it needs follows from the
 * fields: a new e-mail or phone is confirmed by a code sent to the new contact point (and the old
 * one is told); an address change by a code sent to the existing contact point; name, birth date
 * and bank account by a backoffice user who is not the requester (four eyes).
 */
import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { durationMs } from './duration.js';
import { sameJson } from './stable-json.js';
import { addressSchema, birthDateSchema, emailSchema, ibanSchema, maskIban, personNameSchema, phoneSchema, type Address } from './contact-data.js';
import type { ChangeStatus } from './processes.js';

export const MASTER_DATA_FIELDS = ['email', 'phone', 'address', 'name', 'birthDate', 'bankAccount'] as const;
export type MasterDataField = (typeof MASTER_DATA_FIELDS)[number];

/** Fields confirmed by the person through a one-time code. */
export const VERIFIED_FIELDS: readonly MasterDataField[] = ['email', 'phone', 'address'];
/** Fields that need a second person's approval. */
export const APPROVED_FIELDS: readonly MasterDataField[] = ['name', 'birthDate', 'bankAccount'];

export const changesSchema = z
  .object({
    email: emailSchema.optional(),
    phone: phoneSchema.optional(),
    address: addressSchema.optional(),
    name: personNameSchema.optional(),
    birthDate: birthDateSchema.optional(),
    bankAccount: ibanSchema.optional(),
  })
  .strict()
  .refine((c) => Object.values(c).some((v) => v !== undefined), 'must name at least one field to change')
  .meta({ minProperties: 1 });
export type Changes = z.infer<typeof changesSchema>;

export const changeRequestSchema = z
  .object({
    changes: changesSchema,
    reason: z.string().trim().max(500, 'has at most 500 characters').optional(),
  })
  .strict();
export type ChangeRequest = z.infer<typeof changeRequestSchema>;

/** The current values of the master-data fields, as the customer row holds them. */
export interface MasterData {
  email: string;
  phone: string | null;
  address: Address | null;
  name: string;
  birthDate: string | null;
  bankAccount: string | null;
}

function fieldEquals(field: MasterDataField, current: MasterData, value: unknown): boolean {
  if (field === 'email') return String(current.email).trim().toLowerCase() === String(value).trim().toLowerCase();
  return sameJson(current[field], value);
}

/**
 * The fields of a request that really change something, with their current values (the base the
 * change was requested against). An empty result is a no-op request.
 */
export function effectiveChanges(current: MasterData, requested: Changes): { changes: Changes; base: Partial<MasterData>; fields: MasterDataField[] } {
  const changes: Record<string, unknown> = {};
  const base: Record<string, unknown> = {};
  for (const field of MASTER_DATA_FIELDS) {
    const value = requested[field];
    if (value === undefined || fieldEquals(field, current, value)) continue;
    changes[field] = value;
    base[field] = current[field];
  }
  return { changes: changes as Changes, base: base as Partial<MasterData>, fields: Object.keys(changes) as MasterDataField[] };
}

/** Timing and limits of verification, approval and GDPR requests; from configuration. */
export interface MasterDataPolicy {
  codeTtl: string;
  maxAttempts: number;
  resendInterval: string;
  maxResends: number;
  approvalTimeout: string;
  approvalExpiry: string;
  erasureGracePeriod: string;
  exportRetention: string;
  backofficeEmail: string;
  /**
   * After a change of e-mail or phone, how long the old contact point can stop it (the change is
   * reverted) and GDPR requests are confirmed from it too. Absent in payloads recorded before it
   * existed (read it through `coolingOffOf`).
   */
  contactChangeCoolingOff: string;
}

export const DEFAULT_CONTACT_CHANGE_COOLING_OFF = '7 days';

/** The cooling-off period of a policy; a policy recorded before the setting existed has the default. */
export const coolingOffOf = (policy: MasterDataPolicy): string => (policy.contactChangeCoolingOff as string | undefined) ?? DEFAULT_CONTACT_CHANGE_COOLING_OFF;

export { durationMs };

/** Names the setting whose duration does not parse; the worker checks its policy at start-up. */
export function checkPolicy(policy: MasterDataPolicy): void {
  for (const key of [
    'codeTtl',
    'resendInterval',
    'approvalTimeout',
    'approvalExpiry',
    'erasureGracePeriod',
    'exportRetention',
    'contactChangeCoolingOff',
  ] as const) {
    if (policy[key] === undefined) continue;
    const ms = (() => {
      try {
        return durationMs(policy[key]);
      } catch {
        return NaN;
      }
    })();
    if (!Number.isFinite(ms) || ms <= 0) throw new Error(`master-data policy: ${key} '${policy[key]}' is not a duration such as "24 hours"`);
  }
  if (durationMs(policy.approvalExpiry) <= durationMs(policy.approvalTimeout))
    throw new Error('master-data policy: approvalExpiry must be longer than approvalTimeout');
}

export const DEFAULT_MASTER_DATA_POLICY: MasterDataPolicy = {
  codeTtl: '24 hours',
  maxAttempts: 5,
  resendInterval: '1 minute',
  maxResends: 3,
  approvalTimeout: '48 hours',
  approvalExpiry: '14 days',
  erasureGracePeriod: '30 days',
  exportRetention: '7 days',
  backofficeEmail: 'backoffice@localhost',
  contactChangeCoolingOff: DEFAULT_CONTACT_CHANGE_COOLING_OFF,
};

// ---------------------------------------------------------------------------------------------
// Verification (shared by change requests and GDPR requests)

/** Where a code goes: the new e-mail, the new phone, or the contact point already on record. */
/** `prior-email`/`prior-phone`: a contact point on record before a contact change still in its cooling-off period (GDPR requests). */
export type VerificationTarget = 'new-email' | 'new-phone' | 'existing-contact' | 'prior-email' | 'prior-phone';

export interface VerificationTargetSpec {
  target: VerificationTarget;
  channel: 'email' | 'sms';
  /** Only for new contact points: the existing one is read from the customer row by the activity. */
  recipient?: string;
}

export interface VerificationView {
  targets: Array<{ target: VerificationTarget; channel: 'email' | 'sms'; sentTo: string; verified: boolean }>;
  attemptsLeft: number;
  resendsLeft: number;
  expiresAt?: string;
  nextResendAt?: string;
}

export type CodeCheck =
  | { result: 'matched'; target: VerificationTarget; attemptsLeft: number }
  | { result: 'wrong'; attemptsLeft: number }
  | { result: 'exhausted'; attemptsLeft: 0 };

export interface IssueCodesInput {
  /** The change id or GDPR request id the codes belong to. */
  subject: string;
  /** The customer whose contact point gets the codes; absent for a lead-only person's GDPR request. */
  customerId?: string;
  /**
   * A lead-only person's GDPR request: the address (normalised) the code goes to, and only when
   * leads of no customer are held under it; the subject counts attempts either way.
   */
  email?: string;
  purpose: 'change' | 'export' | 'erasure';
  issue: number;
  ttlMs: number;
  maxAttempts: number;
  targets: VerificationTargetSpec[];
  workflowId: string;
  /** Keys the "code sent" timeline entries: an erasure's subject repeats across runs, a run does not. */
  runId?: string;
}

export interface IssuedCodes {
  expiresAt: string;
  sent: Array<{ target: VerificationTarget; channel: 'email' | 'sms'; sentTo: string }>;
}

/** Shows enough of a contact point for a person to recognise it, not enough to harvest it. */
export function maskContact(value: string): string {
  const at = value.indexOf('@');
  if (at > 0) return `${value[0]}***${value.slice(at)}`;
  return value.length > 4 ? `${value.slice(0, 3)}…${value.slice(-2)}` : '***';
}

// ---------------------------------------------------------------------------------------------
// Change requests

export { CHANGE_STATUS, CLOSED_CHANGE_STATUSES, type ChangeStatus } from './processes.js';

export interface Transition {
  status: string;
  at: string;
  actor: string;
  reason?: string;
}

export interface SubmitChangeInput {
  changeId: string;
  customerId: string;
  changes: Changes;
  /** Values of the changed fields when the request was made; the apply step re-validates against them. */
  base: Partial<MasterData>;
  baseVersion: number;
  requestedBy: string;
  reason?: string;
  /**
   * Only in requests of runs recorded before the policy became the worker's (their histories
   * still carry it); new requests leave it out and the workflow asks the worker once.
   */
  policy?: MasterDataPolicy;
  /**
   * This change restores the contact data a change replaced: the old contact point stopped that
   * change within its cooling-off period through the link sent to it, which is its confirmation
   * (no code, no approval).
   */
  revertOf?: string;
}

export interface ChangeState {
  changeId: string;
  customerId: string;
  status: ChangeStatus;
  fields: MasterDataField[];
  requestedBy: string;
  reason?: string;
  /** What the change will set, with bank accounts masked: safe to show to any agent. */
  preview: Record<string, unknown>;
  verification?: VerificationView;
  approval?: { required: true; dueAt?: string; escalated: boolean; decision?: 'approve' | 'reject'; approver?: string; comment?: string };
  /** The contact point on record was lost: a backoffice user checked the customer's identity instead of its code. */
  identityCheck?: { method: IdentityCheckMethod; reference: string; approver: string; at: string };
  outcome?: { version?: number; detail?: string };
  transitions: Transition[];
}

export interface SubmitChangeResult {
  changeId: string;
  status: ChangeStatus;
  /** Changes ahead of this one for the same customer. */
  position: number;
}

export interface VerifyInput {
  id: string;
  code: string;
  actor: string;
}
export interface ResendInput {
  id: string;
  actor: string;
}
export interface ApprovalInput {
  changeId: string;
  decision: 'approve' | 'reject';
  comment?: string;
  approver: string;
}
export interface CancelInput {
  id: string;
  actor: string;
  reason?: string;
}

export type VerifyResult = { status: string; verified: boolean; attemptsLeft: number };

export const submitChangeUpdate = defineUpdate<SubmitChangeResult, [SubmitChangeInput]>('submitChange');
export const verifyChangeUpdate = defineUpdate<VerifyResult, [VerifyInput]>('verifyChange');
export const resendChangeCodeUpdate = defineUpdate<VerificationView, [ResendInput]>('resendChangeCode');
export const decideApprovalUpdate = defineUpdate<ChangeState, [ApprovalInput]>('decideApproval');
export const cancelChangeUpdate = defineUpdate<ChangeState, [CancelInput]>('cancelChange');
export const confirmIdentityUpdate = defineUpdate<ChangeState, [IdentityCheckInput]>('confirmIdentity');
export const changeStateQuery = defineQuery<ChangeState | null, [string]>('changeState');
export const masterDataStateQuery = defineQuery<{ customerId: string; current?: string; queued: string[]; changes: ChangeState[] }>('state');

export function masterDataWorkflowId(customerId: string): string {
  return `master-data-${customerId}`;
}

/** What an agent may see of a requested value. */
export function previewChanges(changes: Changes): Record<string, unknown> {
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, k === 'bankAccount' ? maskIban(String(v)) : v]));
}

/** Verification a change needs, derived from its fields. */
/**
 * Who confirms a change: a new e-mail address or phone number itself, and (`confirmOldContact`)
 * the contact point on record too, so whoever knows only the new one cannot take the account
 * over: the old address for an e-mail change, the old phone (or the address when there is none)
 * for a phone change. An address change is confirmed from the contact point on record.
 */
export function verificationTargets(changes: Changes, opts: { confirmOldContact?: boolean } = {}): VerificationTargetSpec[] {
  const targets: VerificationTargetSpec[] = [];
  if (changes.email !== undefined) targets.push({ target: 'new-email', channel: 'email', recipient: changes.email });
  if (changes.phone !== undefined) targets.push({ target: 'new-phone', channel: 'sms', recipient: changes.phone });
  const contactChange = changes.email !== undefined || changes.phone !== undefined;
  if (changes.address !== undefined || (opts.confirmOldContact && contactChange)) {
    targets.push({
      target: 'existing-contact',
      channel: opts.confirmOldContact && changes.email === undefined && changes.phone !== undefined ? 'sms' : 'email',
    });
  }
  return targets;
}

export const IDENTITY_CHECK_METHODS = ['id-document', 'video-call', 'callback-known-number'] as const;
export type IdentityCheckMethod = (typeof IDENTITY_CHECK_METHODS)[number];

/**
 * A backoffice user's confirmation instead of the code to a contact point on record the customer
 * has lost: which identity check they made (and its reference: document number, call id), never
 * by the requester of the change.
 */
export interface IdentityCheckInput {
  changeId: string;
  approver: string;
  identityCheck: { method: IdentityCheckMethod; reference: string };
}

export function needsApproval(fields: readonly MasterDataField[]): boolean {
  return fields.some((f) => APPROVED_FIELDS.includes(f));
}

export interface ApplyChangeInput {
  changeId: string;
  customerId: string;
  changes: Changes;
  base: Partial<MasterData>;
  expectedVersion: number;
  requestedBy: string;
  approvedBy?: string;
  workflowId: string;
}

export type ApplyChangeResult =
  | { outcome: 'applied'; version: number; fields: MasterDataField[]; messageIds: string[] }
  /** The row moved on, but none of our fields did: the change may be applied on top of `version`. */
  | { outcome: 'stale'; version: number }
  /** Someone else changed a field of this request since it was made: applying would overwrite them. */
  | { outcome: 'conflict'; version: number; fields: MasterDataField[] }
  | { outcome: 'refused'; detail: string };

export interface ChangeRecord {
  changeId: string;
  customerId: string;
  fields: MasterDataField[];
  status: ChangeStatus;
  requestedBy: string;
  approvedBy?: string;
  reason?: string;
  workflowId: string;
  transitions: Transition[];
  /** The new bank account in full, for the approver's audited reveal; only when opening the change. */
  newBankAccount?: string;
}
