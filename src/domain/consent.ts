/**
 * Consent: whether a customer may be contacted on a channel (e-mail, SMS, phone) for a purpose
 * (service, marketing), as a history of grants and withdrawals that is never overwritten, each
 * with its proof. Service messages (codes, confirmations, GDPR) need none; marketing (campaigns,
 * offers) goes out only with the customer's marketing consent for that channel, and carries an
 * unsubscribe link whose opening records the withdrawal without a login.
 *
 * `recordConsent` (`consent-<key>`) records one grant or withdrawal; a withdrawal of marketing
 * consent tells the customer's running enrollments at once (`consentWithdrawn` signal), and they
 * end with the reason before their next message.
 */
import { z } from 'zod';
import { defineSignal } from '@temporalio/workflow';
import { dateTimeSchema } from './formats.js';

export const CONSENT_CHANNELS = ['email', 'sms', 'phone'] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];
export const CONSENT_PURPOSES = ['service', 'marketing'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
export const CONSENT_ACTIONS = ['grant', 'withdraw'] as const;
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];
/** How consent was given or withdrawn; `double-opt-in` and `unsubscribe-link` are recorded by the processes themselves. */
export const CONSENT_METHODS = ['double-opt-in', 'form', 'call', 'letter', 'in-person', 'import', 'unsubscribe-link'] as const;
export type ConsentMethod = (typeof CONSENT_METHODS)[number];
/** What an agent may record through the API: the other methods are the processes' own proof. */
export const RECORDABLE_METHODS = ['form', 'call', 'letter', 'in-person', 'import'] as const;

/**
 * The wording a person agrees to, by version: a grant names the version it was given on, so the
 * proof shows what exactly was agreed. A new wording is a new version; old ones stay.
 */
export const CONSENT_TEXTS = {
  'opt-in-email-v1':
    'By confirming my e-mail address I agree to receive news and offers by e-mail. I can object at any time with the link in every such message.',
  'marketing-email-v1': 'I agree to receive news and offers by e-mail. I can withdraw this consent at any time.',
  'marketing-sms-v1': 'I agree to receive news and offers by SMS. I can withdraw this consent at any time.',
  'marketing-phone-v1': 'I agree to be called about news and offers. I can withdraw this consent at any time.',
  'service-v1': 'I agree to be contacted about my contracts and account.',
} as const;
export type ConsentTextVersion = keyof typeof CONSENT_TEXTS;
export const CONSENT_TEXT_VERSIONS = Object.keys(CONSENT_TEXTS) as [ConsentTextVersion, ...ConsentTextVersion[]];
/** The wording the onboarding's opt-in message asks the customer to confirm. */
export const OPT_IN_TEXT_VERSION: ConsentTextVersion = 'opt-in-email-v1';

/** How long an unsubscribe link works after its message was sent. */
export const UNSUBSCRIBE_LINK_VALIDITY_MS = 365 * 86_400_000;

const sourceSchema = z.string().trim().min(1, 'say where the consent came from (a form, the call, the import)').max(500);

/** What an agent records: a grant needs the wording agreed to; both need how and where. */
export const consentChangeRequestSchema = z
  .object({
    channel: z.enum(CONSENT_CHANNELS),
    purpose: z.enum(CONSENT_PURPOSES),
    method: z.enum(RECORDABLE_METHODS),
    source: sourceSchema,
    textVersion: z.enum(CONSENT_TEXT_VERSIONS).optional(),
    occurredAt: dateTimeSchema().optional(),
  })
  .strict();
export type ConsentChangeRequest = z.infer<typeof consentChangeRequestSchema>;

export interface ConsentProof {
  method: ConsentMethod;
  textVersion?: string | null;
  source: string;
  /** What the grant rests on, e.g. the double opt-in's confirmation. */
  confirmation?: Record<string, unknown> | null;
}

export interface ConsentChangeInput {
  consentId: string;
  customerId: string;
  channel: ConsentChannel;
  purpose: ConsentPurpose;
  action: ConsentAction;
  proof: ConsentProof;
  occurredAt: string;
  actor: string;
  /** The unsubscribe link that recorded this withdrawal (its hash), used once. */
  unsubscribeTokenSha256?: string;
}

export interface ConsentEntry {
  id: string;
  channel: ConsentChannel;
  purpose: ConsentPurpose;
  action: ConsentAction;
  method: string;
  textVersion: string | null;
  text: string | null;
  source: string;
  confirmation: Record<string, unknown> | null;
  occurredAt: string;
  recordedAt: string;
  recordedBy: string;
  workflowId: string | null;
}

export interface ConsentChangeResult {
  consent: ConsentEntry;
  /** The running enrollments told of a marketing withdrawal: those that use its channel end at once. */
  notifiedEnrollments: string[];
}

/** What a running enrollment is told when marketing consent is withdrawn. */
export interface ConsentWithdrawnNotice {
  consentId: string;
  channel: ConsentChannel;
  method: string;
  occurredAt: string;
}
export const consentWithdrawnSignal = defineSignal<[ConsentWithdrawnNotice]>('consentWithdrawn');

export function consentWorkflowId(key: string): string {
  return `consent-${key}`;
}
