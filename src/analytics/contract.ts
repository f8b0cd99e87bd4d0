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

export const CHANGES = {
  workflowType: 'changeRequest',
  typeAttribute: 'CrmChangeType',
  awaitingVerification: 'awaiting-verification',
  verified: 'verified',
  awaitingApproval: 'awaiting-approval',
  approved: 'approved',
  rejected: 'rejected',
  expired: 'expired',
  applied: 'applied',
  failedVerification: 'verification-failed',
} as const;
