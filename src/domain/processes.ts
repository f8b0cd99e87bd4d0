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
} as const;

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
} as const;

// Acquisition -------------------------------------------------------------------------------

export const LEAD_STAGE = {
  new: 'new',
  contacted: 'contacted',
  qualified: 'qualified',
  proposal: 'proposal',
  nurture: 'nurture',
  won: 'won',
  lost: 'lost',
} as const;
export type LeadStage = (typeof LEAD_STAGE)[keyof typeof LEAD_STAGE];
export const LEAD_STAGES = valuesOf(LEAD_STAGE);
export const CLOSED_STAGES: readonly LeadStage[] = [LEAD_STAGE.won, LEAD_STAGE.lost];
/** The way forward through the funnel, from intake to a won deal (nurture and lost are side exits). */
export const FUNNEL_STAGES = [LEAD_STAGE.new, LEAD_STAGE.contacted, LEAD_STAGE.qualified, LEAD_STAGE.proposal, LEAD_STAGE.won] as const;

// Offers ------------------------------------------------------------------------------------

export const OFFER_KIND = { upsell: 'upsell', crossSell: 'cross-sell', downsell: 'downsell' } as const;
export type OfferKind = (typeof OFFER_KIND)[keyof typeof OFFER_KIND];
export const OFFER_KINDS = valuesOf(OFFER_KIND);

/** withdrawn: the customer became uncontactable (opt-out, erasure) before the offer could go out. */
export const OFFER_STATUS = {
  checking: 'checking',
  ineligible: 'ineligible',
  deferred: 'deferred',
  presented: 'presented',
  accepted: 'accepted',
  declined: 'declined',
  expired: 'expired',
  withdrawn: 'withdrawn',
} as const;
export type OfferStatus = (typeof OFFER_STATUS)[keyof typeof OFFER_STATUS];
export const FINAL_OFFER_STATUSES: readonly OfferStatus[] = [OFFER_STATUS.ineligible, OFFER_STATUS.accepted, OFFER_STATUS.declined, OFFER_STATUS.expired, OFFER_STATUS.withdrawn];

// Retention ---------------------------------------------------------------------------------

export const ENROLLMENT_STATUS = {
  active: 'active',
  waiting: 'waiting',
  deferred: 'deferred',
  completed: 'completed',
  goalMet: 'goal-met',
  optedOut: 'opted-out',
  suppressed: 'suppressed',
} as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUS)[keyof typeof ENROLLMENT_STATUS];
export const FINAL_ENROLLMENT_STATUSES: readonly EnrollmentStatus[] = [ENROLLMENT_STATUS.completed, ENROLLMENT_STATUS.goalMet, ENROLLMENT_STATUS.optedOut, ENROLLMENT_STATUS.suppressed];

// Onboarding --------------------------------------------------------------------------------

export const ONBOARDING_STATUS = { starting: 'starting', inProgress: 'in-progress', onboarded: 'onboarded', stalled: 'stalled' } as const;
export type OnboardingStatus = (typeof ONBOARDING_STATUS)[keyof typeof ONBOARDING_STATUS];

// Master-data changes -----------------------------------------------------------------------

export const CHANGE_STATUS = {
  queued: 'queued',
  awaitingVerification: 'awaiting-verification',
  awaitingApproval: 'awaiting-approval',
  escalated: 'escalated',
  applying: 'applying',
  applied: 'applied',
  rejected: 'rejected',
  failed: 'failed',
  expired: 'expired',
  cancelled: 'cancelled',
} as const;
export type ChangeStatus = (typeof CHANGE_STATUS)[keyof typeof CHANGE_STATUS];
export const CLOSED_CHANGE_STATUSES: readonly ChangeStatus[] = [CHANGE_STATUS.applied, CHANGE_STATUS.rejected, CHANGE_STATUS.failed, CHANGE_STATUS.expired, CHANGE_STATUS.cancelled];

// GDPR requests -----------------------------------------------------------------------------

export const GDPR_STATUS = {
  awaitingVerification: 'awaiting-verification',
  assembling: 'assembling',
  ready: 'ready',
  retrieved: 'retrieved',
  discarded: 'discarded',
  gracePeriod: 'grace-period',
  erasing: 'erasing',
  erased: 'erased',
  cancelled: 'cancelled',
  failed: 'failed',
  expired: 'expired',
} as const;
export type GdprStatus = (typeof GDPR_STATUS)[keyof typeof GDPR_STATUS];
