/**
 * Custom search attributes every process sets, so operators can find a process in the Temporal UI
 * by customer, process, status and owner. Registered on the dev server by `npm start` and the test
 * harness, and by `temporal operator search-attribute create` in docker-compose.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTE } from './processes.js';

export const CrmCustomerId = defineSearchAttributeKey(SEARCH_ATTRIBUTE.customerId, SearchAttributeType.KEYWORD);
/** Which process a workflow belongs to: one of CRM_PROCESS (src/domain/processes.ts). */
export const CrmProcess = defineSearchAttributeKey(SEARCH_ATTRIBUTE.process, SearchAttributeType.KEYWORD);
export const CrmStatus = defineSearchAttributeKey(SEARCH_ATTRIBUTE.status, SearchAttributeType.KEYWORD);
export const CrmOwner = defineSearchAttributeKey(SEARCH_ATTRIBUTE.owner, SearchAttributeType.KEYWORD);
/** Where a lead came from (web, event, referral, import, partner). */
export const CrmSource = defineSearchAttributeKey(SEARCH_ATTRIBUTE.source, SearchAttributeType.KEYWORD);

/** The retention campaign a run, enrollment or offer belongs to. */
export const CrmCampaignId = defineSearchAttributeKey(SEARCH_ATTRIBUTE.campaignId, SearchAttributeType.KEYWORD);

/** upsell, cross-sell or downsell: offers are found and reported by kind. */
export const CrmOfferKind = defineSearchAttributeKey(SEARCH_ATTRIBUTE.offerKind, SearchAttributeType.KEYWORD);

/** The fields a master-data change touches, e.g. `address+phone`, set with each step of the change. */
export const CrmChangeType = defineSearchAttributeKey(SEARCH_ATTRIBUTE.changeType, SearchAttributeType.KEYWORD);

/** The team of the process's owner (a team id): pipeline and SLA reports group by it. */
export const CrmTeam = defineSearchAttributeKey(SEARCH_ATTRIBUTE.team, SearchAttributeType.KEYWORD);
/** A lead's or opportunity's amount (in CrmDealCurrency), its currency, the probability of its stage (0..1) and expected close date: the forecast is read from these. */
export const CrmDealAmount = defineSearchAttributeKey(SEARCH_ATTRIBUTE.dealAmount, SearchAttributeType.DOUBLE);
export const CrmDealCurrency = defineSearchAttributeKey(SEARCH_ATTRIBUTE.dealCurrency, SearchAttributeType.KEYWORD);
export const CrmDealProbability = defineSearchAttributeKey(SEARCH_ATTRIBUTE.dealProbability, SearchAttributeType.DOUBLE);
export const CrmExpectedClose = defineSearchAttributeKey(SEARCH_ATTRIBUTE.expectedClose, SearchAttributeType.DATETIME);

export const CRM_SEARCH_ATTRIBUTES = [
  CrmCustomerId,
  CrmProcess,
  CrmStatus,
  CrmOwner,
  CrmSource,
  CrmCampaignId,
  CrmOfferKind,
  CrmChangeType,
  CrmTeam,
  CrmDealAmount,
  CrmDealCurrency,
  CrmDealProbability,
  CrmExpectedClose,
] as const;

/** How the CLI (`--search-attribute Name=Type`, `temporal operator search-attribute create --type`) names each type. */
export const CLI_SEARCH_ATTRIBUTE_TYPE: Record<SearchAttributeType, string> = {
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};
