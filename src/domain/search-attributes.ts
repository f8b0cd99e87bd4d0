/**
 * Custom search attributes every process sets, so operators can find a process in the Temporal UI
 * by customer, process, status and owner. Registered on the dev server by `npm start` and the test
 * harness, and by `temporal operator search-attribute create` in docker-compose.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CrmCustomerId = defineSearchAttributeKey('CrmCustomerId', SearchAttributeType.KEYWORD);
export const CrmProcess = defineSearchAttributeKey('CrmProcess', SearchAttributeType.KEYWORD);
export const CrmStatus = defineSearchAttributeKey('CrmStatus', SearchAttributeType.KEYWORD);
export const CrmOwner = defineSearchAttributeKey('CrmOwner', SearchAttributeType.KEYWORD);
/** Where a lead came from (web, event, referral, import, partner). */
export const CrmSource = defineSearchAttributeKey('CrmSource', SearchAttributeType.KEYWORD);

/** The retention campaign a run, enrollment or offer belongs to. */
export const CrmCampaignId = defineSearchAttributeKey('CrmCampaignId', SearchAttributeType.KEYWORD);

/** upsell, cross-sell or downsell: offers are found and reported by kind. */
export const CrmOfferKind = defineSearchAttributeKey('CrmOfferKind', SearchAttributeType.KEYWORD);

/** The fields a master-data change touches, e.g. `address+phone`, set with each step of the change. */
export const CrmChangeType = defineSearchAttributeKey('CrmChangeType', SearchAttributeType.KEYWORD);

export const CRM_SEARCH_ATTRIBUTES = [CrmCustomerId, CrmProcess, CrmStatus, CrmOwner, CrmSource, CrmCampaignId, CrmOfferKind, CrmChangeType] as const;

