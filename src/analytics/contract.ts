/**
 * What analytics knows of the operational processes: workflow type names and the CrmStatus
 * values they pass through, taken from src/domain/processes.ts (constants and types only, no
 * runtime of the operational side). Nothing else of the operational code.
 */
import {
  CRM_PROCESS,
  CHANGE_STATUS,
  CLOSED_CHANGE_STATUSES,
  ENROLLMENT_STATUS,
  FUNNEL_STAGES,
  LEAD_STAGE,
  MESSAGE_STATUS,
  RETRIES_EXHAUSTED,
  OPPORTUNITY_SOURCE,
  OFFER_KINDS,
  OFFER_STATUS,
  SEARCH_ATTRIBUTE,
  TASK_ATTRIBUTE,
  TASK_PROCESS_STATUS,
  WORKFLOW_TYPE,
} from '../domain/processes.js';

/** A customer's completed erasure: analytics deletes the pseudonym mappings of their runs (migration 0005). */
export const ERASURE = { workflowType: WORKFLOW_TYPE.gdprErasure, erasedStatus: 'erased' } as const;

export const FUNNEL = {
  workflowType: WORKFLOW_TYPE.leadFunnel,
  stages: FUNNEL_STAGES,
  won: LEAD_STAGE.won,
  lost: LEAD_STAGE.lost,
  sourceAttribute: SEARCH_ATTRIBUTE.source,
  ownerAttribute: SEARCH_ATTRIBUTE.owner,
} as const;

export const CAMPAIGNS = {
  enrollmentType: WORKFLOW_TYPE.campaignEnrollment,
  campaignAttribute: SEARCH_ATTRIBUTE.campaignId,
  goalStatuses: [ENROLLMENT_STATUS['goal-met']],
  optOutStatuses: [ENROLLMENT_STATUS['opted-out']],
  /** A message sent is a delivery workflow started by the enrollment. */
  messageActivities: [`child:${WORKFLOW_TYPE.deliverNotification}`],
} as const;

/** Deliveries that gave up: counted by channel and template (CrmSource) and why (the failure type of their last attempt). */
export const MESSAGES = {
  workflowType: WORKFLOW_TYPE.deliverNotification,
  undeliverable: MESSAGE_STATUS.undeliverable,
  sourceAttribute: SEARCH_ATTRIBUTE.source,
  retriesExhausted: RETRIES_EXHAUSTED,
} as const;

export const OFFERS = {
  workflowType: WORKFLOW_TYPE.offer,
  kindAttribute: SEARCH_ATTRIBUTE.offerKind,
  kinds: OFFER_KINDS,
  accepted: OFFER_STATUS.accepted,
  declined: OFFER_STATUS.declined,
  expired: OFFER_STATUS.expired,
  ineligible: OFFER_STATUS.ineligible,
} as const;

/**
 * Master-data changes run one after another in the customer's change desk (`customerMasterData`);
 * each change's steps and outcome appear in its status timeline with the fields it touches.
 */
export const CHANGES = {
  workflowType: WORKFLOW_TYPE.customerMasterData,
  typeAttribute: SEARCH_ATTRIBUTE.changeType,
  awaitingVerification: CHANGE_STATUS['awaiting-verification'],
  awaitingApproval: CHANGE_STATUS['awaiting-approval'],
  escalated: CHANGE_STATUS.escalated,
  applying: CHANGE_STATUS.applying,
  applied: CHANGE_STATUS.applied,
  rejected: CHANGE_STATUS.rejected,
  expired: CHANGE_STATUS.expired,
  outcomes: CLOSED_CHANGE_STATUSES,
  verificationFailed: [CHANGE_STATUS.failed, CHANGE_STATUS.expired, CHANGE_STATUS.cancelled],
} as const;

/**
 * The open pipeline: funnels (leads and opportunities) and tasks are followed while they run.
 * One funnel spans several runs (it continues as new), joined by workflow id.
 */
export const PIPELINE = {
  funnelProcess: CRM_PROCESS.acquisition,
  won: LEAD_STAGE.won,
  lost: LEAD_STAGE.lost,
  /** A funnel that ended at intake (the person already was a lead or a customer) is no deal. */
  notADeal: ['duplicate'],
  /** An opportunity is the funnel for an existing customer, told from a lead by its CrmSource. */
  opportunitySource: OPPORTUNITY_SOURCE,
  attributes: {
    process: SEARCH_ATTRIBUTE.process,
    source: SEARCH_ATTRIBUTE.source,
    stage: SEARCH_ATTRIBUTE.status,
    owner: SEARCH_ATTRIBUTE.owner,
    team: SEARCH_ATTRIBUTE.team,
    amount: SEARCH_ATTRIBUTE.dealAmount,
    currency: SEARCH_ATTRIBUTE.dealCurrency,
    probability: SEARCH_ATTRIBUTE.dealProbability,
    expectedClose: SEARCH_ATTRIBUTE.expectedClose,
  },
} as const;

export const TASKS = {
  process: CRM_PROCESS.task,
  open: TASK_PROCESS_STATUS.open,
  overdue: TASK_PROCESS_STATUS.overdue,
  done: TASK_PROCESS_STATUS.done,
  cancelled: TASK_PROCESS_STATUS.cancelled,
  attributes: { status: SEARCH_ATTRIBUTE.status, ...TASK_ATTRIBUTE },
} as const;

/** The processes followed while they run (the others are read once they close). */
export const FOLLOWED_PROCESSES = [PIPELINE.funnelProcess, TASKS.process] as const;
