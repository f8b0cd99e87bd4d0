/**
 * Onboarding of a new customer (won lead or registration): e-mail double opt-in by code,
 * an account manager, a welcome once the address is confirmed, a first-contact task with its own
 * SLA, and a check-in that decides `onboarded` or `stalled`.
 */
import type { HistoryLimits } from './history-limits.js';
import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OnboardingStatus } from './processes.js';

export const OPT_IN_MAX_ATTEMPTS = 5;
export const OPT_IN_MAX_RESENDS = 3;
/** An opt-in code is valid for as long as an onboarding waits for its check-in by default. */
export const OPT_IN_CODE_TTL_MS = 14 * 86_400_000;

/**
 * A checked opt-in code. `attemptsLeft` is counted in the database; `counted` is false when the
 * limit had been reached before this check, so nothing was compared. Checks recorded before the
 * count moved into the database answered `{ ok }` alone.
 */
export type OptInCheck = { ok: true; attemptsLeft?: number } | { ok: false; attemptsLeft?: number; counted?: boolean };

export const optInRequestSchema = z
  .object({
    code: z
      .string()
      .trim()
      .regex(/^\d{6}$/, 'must be the 6-digit code from the e-mail'),
  })
  .strict();

export interface OnboardingInput {
  customerId: string;
  name: string;
  email: string;
  locale: string;
  /** The lead's owner stays the account manager; without one, round-robin assigns one. */
  accountManager?: string;
  origin: 'lead' | 'registration';
  leadId?: string;
  /** When to continue as new (workflows/history-budget.ts): the defaults unless a test lowers them. */
  limits?: Partial<HistoryLimits>;
  /** Set by continue-as-new: the onboarding as it stood, so the next run goes on where the last one stopped. */
  carried?: OnboardingCarried;
}

/** What a run hands to the next when it continues as new: state, what `beginOnboarding` decided, and the record's progress. */
export interface OnboardingCarried {
  state: OnboardingState;
  begun: { accountManager: string; teamId?: string; policy: OnboardingPolicy };
  withTasks: boolean;
  welcomed: boolean;
  record: { seq: number; transitions: number; recordedAs: string };
}

export interface OnboardingPolicy {
  firstContactSlaMs: number;
  checkInAfterMs: number;
}

export { ONBOARDING_STATUS, type OnboardingStatus } from './processes.js';

export interface OnboardingState {
  customerId: string;
  origin: OnboardingInput['origin'];
  leadId?: string;
  status: OnboardingStatus;
  accountManager?: string;
  optIn: { status: 'pending' | 'confirmed' | 'locked'; attempts: number; resends?: number; sentAt?: string; confirmedAt?: string };
  /** `taskId`: the account manager's first-contact task (when they are a user); `taskOpen` until it is completed or resolved. */
  firstContact: { dueAt?: string; doneAt?: string; reminderSentAt?: string; taskId?: string; taskOpen?: boolean };
  checkInAt?: string;
  reasons: string[];
  /** Messages not sent because the customer must not be contacted, and why. */
  withheld: Array<{ step: string; at: string; reason: string }>;
  transitions: Array<{ status: OnboardingStatus; at: string; actor: string; reason?: string }>;
}

export interface OnboardingResult {
  outcome: 'onboarded' | 'stalled';
  customerId: string;
  reasons: string[];
}

export type OptInAnswer = { confirmed: true } | { confirmed: false; attemptsLeft: number };

export const onboardingStateQuery = defineQuery<OnboardingState>('state');
export const confirmOptInUpdate = defineUpdate<OptInAnswer, [{ code: string; actor: string }]>('confirmOptIn');
/** A new code replaces the old one (the customer lost the e-mail); at most OPT_IN_MAX_RESENDS times. */
export const resendOptInUpdate = defineUpdate<OnboardingState, [{ actor: string }]>('resendOptIn');

export function refuseOptIn(state: Pick<OnboardingState, 'status' | 'optIn'>): string | undefined {
  if (state.status === 'onboarded' || state.status === 'stalled') return `onboarding has ended (${state.status})`;
  if (state.status === 'starting') return 'the confirmation code has not been sent yet';
  if (state.optIn.status === 'confirmed') return 'the e-mail address is already confirmed';
  if (state.optIn.status === 'locked') return `too many wrong codes (${OPT_IN_MAX_ATTEMPTS}); the confirmation is locked`;
  return undefined;
}

export function refuseResend(state: Pick<OnboardingState, 'status' | 'optIn'>): string | undefined {
  const why = refuseOptIn(state);
  if (why) return why;
  if ((state.optIn.resends ?? 0) >= OPT_IN_MAX_RESENDS) return `the code was already sent again ${OPT_IN_MAX_RESENDS} times`;
  return undefined;
}

export function onboardingWorkflowId(customerId: string): string {
  return `onboarding-${customerId}`;
}
