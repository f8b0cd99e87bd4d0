/**
 * Recording an interaction (`interaction-<key>`): one contact_events row, then a signal to the
 * subject's running process (the lead's funnel, where contact resets the SLA; the customer's
 * onboarding, where it is the first contact). Ends when both are done; a subject whose process
 * has ended keeps the record all the same.
 */
import { getExternalWorkflowHandle, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import { leadWorkflowId } from '../src/domain/acquisition.js';
import { interactionRecordedSignal, type Interaction, type RecordInteractionInput } from '../src/domain/contacts.js';
import { onboardingWorkflowId } from '../src/domain/onboarding.js';

// No attempt limit: recording an interaction is one of the idempotent writes of the record, and the only failures that pass are
// PostgreSQL outages, which a retry outlasts (an outage delays the process, never loses a step).
// What no retry mends (a refused rule, a missing row) is typed non-retryable and ends the step at once.
const { recordContactEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES] },
});

export async function recordInteraction(input: RecordInteractionInput): Promise<Interaction> {
  const event = await recordContactEvent({ ...input, workflowId: workflowInfo().workflowId });
  const target = input.subject.kind === 'lead' ? leadWorkflowId(input.subject.leadId) : onboardingWorkflowId(input.subject.customerId);
  try {
    await getExternalWorkflowHandle(target).signal(interactionRecordedSignal, {
      eventId: event.id,
      channel: input.interaction.channel,
      direction: input.interaction.direction,
      occurredAt: event.occurredAt,
      recordedBy: input.actor,
    });
  } catch {
    // No running process for this subject (closed, or never started): the record is what counts.
  }
  return event;
}
