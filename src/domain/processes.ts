/**
 * The names every layer shares: the processes (the `CrmProcess` search attribute), the workflow
 * types, the search attributes' names, lead stages and the status values each process passes
 * through (`CrmStatus`). Constants and types only, with no import, so analytics can take its
 * contract from here and nothing else of the operational code; the domain modules build their
 * schemas and state machines on these.
 */

/** The values of a constant object as a non-empty tuple, as `z.enum` takes them. */
function valuesOf<T extends Record<string, string>>(o: T): readonly [T[keyof T], ...Array<T[keyof T]>] {
  return Object.values(o) as [T[keyof T], ...Array<T[keyof T]>];
}

/** Each value of a list by its own name (`LEAD_STAGE.won`, `CHANGE_STATUS['awaiting-approval']`). */
function byName<const T extends readonly string[]>(values: T): { readonly [V in T[number]]: V } {
  return Object.fromEntries(values.map((v) => [v, v])) as { readonly [V in T[number]]: V };
}

/** Every operational process, as operators find it in the Temporal UI (`CrmProcess = '…'`). */
export const CRM_PROCESS = {
  acquisition: 'acquisition',
  registration: 'registration',
  onboarding: 'onboarding',
  contacts: 'contacts',
  retention: 'retention',
  offers: 'offers',
  masterData: 'master-data',
  gdpr: 'gdpr',
  notification: 'notification',
  /** A task handed to a person (`task-<id>`), made by one of the processes above. */
  task: 'task',
  consent: 'consent',
  /** The delivery of outbound events to one webhook subscription (`webhook-<subscription id>`). */
  webhooks: 'webhooks',
  /** User, team and API-key administration: audit entries only, no workflow. */
  users: 'users',
  /** A bulk import of customers or leads (`import-<id>`). */
  import: 'import',
} as const;
export type CrmProcess = (typeof CRM_PROCESS)[keyof typeof CRM_PROCESS];
export const CRM_PROCESSES = valuesOf(CRM_PROCESS);

/** Workflow types whose history analytics reads. */
export const WORKFLOW_TYPE = {
  leadFunnel: 'leadFunnel',
  campaignEnrollment: 'campaignEnrollment',
  offer: 'offer',
  customerMasterData: 'customerMasterData',
  deliverNotification: 'deliverNotification',
  /** A closed erasure (CrmStatus `erased`) tells analytics to forget which runs were the customer's. */
  gdprErasure: 'gdprErasure',
} as const;

/**
 * A message's delivery (`deliverNotification`): its CrmStatus values, and what it sets as
 * CrmSource when it gives up (`<channel>:<template>`), so analytics counts undeliverable messages
 * by channel and template, and by the failure type of the attempt that ended it.
 */
export const MESSAGE_STATUS = byName(['pending', 'sent', 'withheld', 'undeliverable'] as const);
/** The failure type analytics reports for a delivery that ran out of retries (its last attempt timed out). */
export const RETRIES_EXHAUSTED = 'RetriesExhausted';

/** Names of the custom search attributes (src/domain/search-attributes.ts defines their keys). */
export const SEARCH_ATTRIBUTE = {
  customerId: 'CrmCustomerId',
  process: 'CrmProcess',
  status: 'CrmStatus',
  owner: 'CrmOwner',
  source: 'CrmSource',
  campaignId: 'CrmCampaignId',
  offerKind: 'CrmOfferKind',
  changeType: 'CrmChangeType',
  team: 'CrmTeam',
  dealAmount: 'CrmDealAmount',
  dealCurrency: 'CrmDealCurrency',
  dealProbability: 'CrmDealProbability',
  expectedClose: 'CrmExpectedClose',
} as const;

// Acquisition -------------------------------------------------------------------------------

export const LEAD_STAGES = ['new', 'contacted', 'qualified', 'proposal', 'nurture', 'won', 'lost'] as const;
export type LeadStage = (typeof LEAD_STAGES)[number];

/**
 * The probability of closing a deal in each stage, unless STAGE_PROBABILITIES says otherwise.
 * A funnel keeps the table it was started with; the forecast is amount × probability.
 */
export const DEFAULT_STAGE_PROBABILITIES: Readonly<Record<LeadStage, number>> = {
  new: 0.1,
  contacted: 0.2,
  qualified: 0.4,
  proposal: 0.6,
  nurture: 0.1,
  won: 1,
  lost: 0,
};
export type StageProbabilities = Record<LeadStage, number>;
export const LEAD_STAGE = byName(LEAD_STAGES);
export const CLOSED_STAGES: readonly LeadStage[] = [LEAD_STAGE.won, LEAD_STAGE.lost];
/**
 * The `CrmSource` of an opportunity: the lead funnel run for an existing customer (from
 * `qualified`, `CrmCustomerId` set from the start); leads come from web, event, referral, import, partner.
 */
export const OPPORTUNITY_SOURCE = 'customer' as const;
/** The way forward through the funnel, from intake to a won deal (nurture and lost are side exits). */
export const FUNNEL_STAGES = [LEAD_STAGE.new, LEAD_STAGE.contacted, LEAD_STAGE.qualified, LEAD_STAGE.proposal, LEAD_STAGE.won] as const;

// Offers ------------------------------------------------------------------------------------

export const OFFER_KINDS = ['upsell', 'cross-sell', 'downsell'] as const;
export type OfferKind = (typeof OFFER_KINDS)[number];
export const OFFER_KIND = byName(OFFER_KINDS);

/** withdrawn: the customer became uncontactable (opt-out, erasure) before the offer could go out. */
export const OFFER_STATUSES = ['checking', 'ineligible', 'deferred', 'presented', 'accepted', 'declined', 'expired', 'withdrawn'] as const;
export type OfferStatus = (typeof OFFER_STATUSES)[number];
export const OFFER_STATUS = byName(OFFER_STATUSES);
export const FINAL_OFFER_STATUSES: readonly OfferStatus[] = [
  OFFER_STATUS.ineligible,
  OFFER_STATUS.accepted,
  OFFER_STATUS.declined,
  OFFER_STATUS.expired,
  OFFER_STATUS.withdrawn,
];

// Retention ---------------------------------------------------------------------------------

export const ENROLLMENT_STATUSES = ['active', 'waiting', 'deferred', 'completed', 'goal-met', 'opted-out', 'suppressed'] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];
export const ENROLLMENT_STATUS = byName(ENROLLMENT_STATUSES);
export const FINAL_ENROLLMENT_STATUSES: readonly EnrollmentStatus[] = [
  ENROLLMENT_STATUS.completed,
  ENROLLMENT_STATUS['goal-met'],
  ENROLLMENT_STATUS['opted-out'],
  ENROLLMENT_STATUS.suppressed,
];

// Onboarding --------------------------------------------------------------------------------

export const ONBOARDING_STATUSES = ['starting', 'in-progress', 'onboarded', 'stalled'] as const;
export type OnboardingStatus = (typeof ONBOARDING_STATUSES)[number];
export const ONBOARDING_STATUS = byName(ONBOARDING_STATUSES);

// Master-data changes -----------------------------------------------------------------------

export const CHANGE_STATUSES = [
  'queued',
  'awaiting-verification',
  'awaiting-approval',
  'escalated',
  'applying',
  'applied',
  'rejected',
  'failed',
  'expired',
  'cancelled',
] as const;
export type ChangeStatus = (typeof CHANGE_STATUSES)[number];
export const CHANGE_STATUS = byName(CHANGE_STATUSES);
export const CLOSED_CHANGE_STATUSES: readonly ChangeStatus[] = [
  CHANGE_STATUS.applied,
  CHANGE_STATUS.rejected,
  CHANGE_STATUS.failed,
  CHANGE_STATUS.expired,
  CHANGE_STATUS.cancelled,
];

// GDPR requests -----------------------------------------------------------------------------

export const GDPR_STATUSES = [
  'awaiting-verification',
  'assembling',
  'ready',
  'retrieved',
  'discarded',
  'grace-period',
  'erasing',
  'erased',
  'cancelled',
  'failed',
  'expired',
] as const;
export type GdprStatus = (typeof GDPR_STATUSES)[number];
export const GDPR_STATUS = byName(GDPR_STATUSES);

// Tasks -------------------------------------------------------------------------------------

/**
 * What analytics learns of a task, and so what every task workflow (`task-<taskId>`) must show in
 * its search attributes, from its start and with every change:
 *   CrmProcess = 'task';
 *   CrmStatus  = one of TASK_PROCESS_STATUSES: open at start; overdue from the moment its due time
 *                passes unfinished (its first escalation) until it ends; done when completed;
 *                cancelled when withdrawn;
 *   CrmSource  = its kind (what made it: lead-contact, onboarding-first-contact, ...);
 *   CrmOwner   = the assignee's user id, CrmTeam = their team id (updated on reassignment);
 *   CrmExpectedClose = its due time (moved by a snooze).
 * A task is on time when it reaches done without passing overdue and not after its due time.
 */
export const TASK_PROCESS_STATUSES = ['open', 'overdue', 'done', 'cancelled'] as const;
export type TaskProcessStatus = (typeof TASK_PROCESS_STATUSES)[number];
export const TASK_PROCESS_STATUS = byName(TASK_PROCESS_STATUSES);
/** Which search attribute carries which fact of a task (see TASK_PROCESS_STATUSES). */
export const TASK_ATTRIBUTE = {
  kind: SEARCH_ATTRIBUTE.source,
  due: SEARCH_ATTRIBUTE.expectedClose,
  owner: SEARCH_ATTRIBUTE.owner,
  team: SEARCH_ATTRIBUTE.team,
} as const;
