/**
 * Delivery of one queued message.
 * States: pending → sent, or withheld (a marketing message whose consent was withdrawn before it went out). Moved by: the transport accepting the message. The activity retries
 * with exponential backoff (capped at 10 minutes) for as long as the transport refuses, so an
 * outage delays messages but never loses them; operators see undelivered messages as running
 * `notify-<messageId>` workflows.
 */
import { ParentClosePolicy, proxyActivities, startChild, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { notificationWorkflowId, type DeliverNotificationInput } from '../src/domain/notifications.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';

const { deliverMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    nonRetryableErrorTypes: ['MessageNotFound'],
  },
});

export async function deliverNotification(input: DeliverNotificationInput): Promise<{ sentAt: string; withheld?: string }> {
  const { sentAt, withheld } = await deliverMessage(input.messageId);
  upsertSearchAttributes([{ key: CrmStatus, value: withheld ? 'withheld' : 'sent' }]);
  return withheld ? { sentAt, withheld } : { sentAt };
}

/**
 * Starts the delivery of one queued message from another process. The delivery is its own
 * workflow and outlives the caller (ABANDON): an SMTP outage may last hours, and no process
 * waits for it unless it chooses to await the returned handle's result.
 */
export function startDelivery(messageId: string, summary: string, customerId?: string) {
  return startChild(deliverNotification, {
    workflowId: notificationWorkflowId(messageId),
    args: [{ messageId }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [
      ...(customerId ? [{ key: CrmCustomerId, value: customerId }] : []),
      { key: CrmProcess, value: CRM_PROCESS.notification },
      { key: CrmStatus, value: 'pending' },
    ],
    staticSummary: summary,
  });
}

/** Messages handed to their delivery workflows and not yet delivered, for a process that waits for them at its end. */
export interface DeliveryTracker {
  open: number;
}

/**
 * Starts the delivery of queued messages (each in its own workflow that outlives the caller); a
 * missing id (no one to tell) is skipped. With a tracker, the caller can later wait, a bounded
 * while, until they are delivered.
 */
export async function deliver(
  messageIds: string | null | undefined | Array<string | null | undefined>,
  summary: string,
  customerId?: string,
  tracker?: DeliveryTracker,
): Promise<void> {
  for (const messageId of Array.isArray(messageIds) ? messageIds : [messageIds]) {
    if (!messageId) continue;
    const child = await startDelivery(messageId, summary, customerId);
    if (!tracker) continue;
    tracker.open++;
    const settled = () => {
      tracker.open--;
    };
    child.result().then(settled, settled);
  }
}
