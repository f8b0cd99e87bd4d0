/**
 * Delivery of one queued message.
 * States: pending → sent. Moved by: the transport accepting the message. The activity retries
 * with exponential backoff (capped at 10 minutes) for as long as the transport refuses, so an
 * outage delays messages but never loses them; operators see undelivered messages as running
 * `notify-<messageId>` workflows.
 */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeliverNotificationInput } from '../src/domain/notifications.js';
import { CrmStatus } from '../src/domain/search-attributes.js';

const { deliverMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['MessageNotFound'] },
});

export async function deliverNotification(input: DeliverNotificationInput): Promise<{ sentAt: string }> {
  const { sentAt } = await deliverMessage(input.messageId);
  upsertSearchAttributes([{ key: CrmStatus, value: 'sent' }]);
  return { sentAt };
}
