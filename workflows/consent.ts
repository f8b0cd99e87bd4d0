/**
 * Consent: `recordConsent` (`consent-<key>`) records one grant or withdrawal of a customer's
 * consent for a channel and purpose, with its proof. A withdrawal of marketing consent tells the
 * customer's running enrollments at once (`consentWithdrawn`): those that use the channel end as
 * opted-out before their next message. Ends when recorded and told.
 */
import { getExternalWorkflowHandle, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import { consentWithdrawnSignal, type ConsentChangeInput, type ConsentChangeResult } from '../src/domain/consent.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';

// No attempt limit: recording a consent change is one of the idempotent writes of the record, and the only failures that pass are
// PostgreSQL outages, which a retry outlasts (an outage delays the process, never loses a step).
// What no retry mends (a refused rule, a missing row) is typed non-retryable and ends the step at once.
const { recordConsentChange } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES, 'TokenUsed'],
  },
});

export async function recordConsent(input: ConsentChangeInput): Promise<ConsentChangeResult> {
  const { workflowId } = workflowInfo();
  upsertSearchAttributes([
    { key: CrmCustomerId, value: input.customerId },
    { key: CrmProcess, value: CRM_PROCESS.consent },
    { key: CrmStatus, value: input.action === 'grant' ? 'granted' : 'withdrawn' },
  ]);
  const { enrollments, consent } = await recordConsentChange({ ...input, workflowId, now: new Date().toISOString() });
  const notice = { consentId: consent.id, channel: consent.channel, method: consent.method, occurredAt: consent.occurredAt };
  // An enrollment that ended meanwhile cannot be told; it no longer needs to know.
  const outcomes = await Promise.allSettled(enrollments.map((id) => getExternalWorkflowHandle(id).signal(consentWithdrawnSignal, notice)));
  return { consent, notifiedEnrollments: enrollments.filter((_, i) => outcomes[i]!.status === 'fulfilled') };
}
