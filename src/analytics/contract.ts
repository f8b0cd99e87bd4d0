/**
 * What analytics knows of the operational processes: workflow type names and the CrmStatus
 * values they pass through (src/domain is the contract). Nothing else of the operational code.
 */
export const FUNNEL = {
  workflowType: 'leadFunnel',
  stages: ['new', 'contacted', 'qualified', 'proposal', 'won'],
  won: 'won',
  lost: 'lost',
  sourceAttribute: 'CrmSource',
  ownerAttribute: 'CrmOwner',
} as const;

export const CAMPAIGNS = {
  enrollmentType: 'campaignEnrollment',
  campaignAttribute: 'CrmCampaignId',
  goalStatuses: ['goal-met'],
  optOutStatuses: ['opted-out'],
  /** A message sent is a delivery workflow started by the enrollment. */
  messageActivities: ['child:deliverNotification'],
} as const;

export const OFFERS = {
  workflowType: 'offer',
  kindAttribute: 'CrmOfferKind',
  kinds: ['upsell', 'cross-sell', 'downsell'],
  accepted: 'accepted',
  declined: 'declined',
  expired: 'expired',
  ineligible: 'ineligible',
} as const;

/**
 * Master-data changes run one after another in the customer's change desk (`customerMasterData`);
 * each change's steps and outcome appear in its status timeline with the fields it touches.
 */
export const CHANGES = {
  workflowType: 'customerMasterData',
  typeAttribute: 'CrmChangeType',
  awaitingVerification: 'awaiting-verification',
  awaitingApproval: 'awaiting-approval',
  escalated: 'escalated',
  applying: 'applying',
  applied: 'applied',
  rejected: 'rejected',
  expired: 'expired',
  outcomes: ['applied', 'rejected', 'failed', 'expired', 'cancelled'],
  verificationFailed: ['failed', 'expired', 'cancelled'],
} as const;
