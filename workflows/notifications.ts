/**
 * Delivery of one queued message.
 * States: pending → sent; withheld (a marketing message whose consent was withdrawn before it
 * went out); or undeliverable (its recipient was erased, the transport refused the address or
 * number for good, or three days of retries did not get it through). Moved by: the transport
 * accepting or refusing the message. A refusal that may pass (an outage, a gateway's 5xx, a
 * timeout) is retried with exponential backoff (capped at 10 minutes) for up to three days, so an
 * outage delays messages but never loses them; one that cannot pass ends the delivery at once.
 * An undeliverable message says why on its row (`GET /v1/messages/{id}`), ends with
 * `CrmStatus = undeliverable` and `CrmSource = <channel>:<template>` in the Temporal UI, and
 * raises a `message-undeliverable` task for the customer's account manager or the back office.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  TimeoutFailure,
  patched,
  proxyActivities,
  setCurrentDetails,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { notificationWorkflowId, type DeliverNotificationInput } from '../src/domain/notifications.js';
import { PERMANENT_FAILURE, UNDELIVERABLE_TYPES } from '../src/domain/refusals.js';
import { CrmCustomerId, CrmProcess, CrmSource, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS, MESSAGE_STATUS, RETRIES_EXHAUSTED } from '../src/domain/processes.js';
import { startTask } from './tasks.js';

/** How long a delivery keeps trying a transport that fails in ways that may pass. */
export const DELIVERY_RETRY_BOUND = '3 days';

const { deliverMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: DELIVERY_RETRY_BOUND,
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    nonRetryableErrorTypes: [...UNDELIVERABLE_TYPES],
  },
});

// No attempt limit: it only writes the record (a database outage delays it, never loses the verdict).
const { raiseUndeliverable } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [PERMANENT_FAILURE.messageNotFound] },
});

/** Guards the undeliverable ending: deliveries recorded before it failed their workflow instead. */
export const UNDELIVERABLE_PATCH = 'message-undeliverable';

export interface DeliveryOutcome {
  sentAt?: string;
  withheld?: string;
  undeliverable?: { type: string; reason: string };
}

export async function deliverNotification(input: DeliverNotificationInput): Promise<DeliveryOutcome> {
  let delivered: Awaited<ReturnType<typeof deliverMessage>>;
  try {
    delivered = await deliverMessage(input.messageId);
  } catch (err) {
    const verdict = undeliverableVerdict(err);
    if (!verdict || !patched(UNDELIVERABLE_PATCH)) throw err;
    const outcome = await raiseUndeliverable({ messageId: input.messageId, workflowId: workflowInfo().workflowId, ...verdict });
    upsertSearchAttributes([
      { key: CrmStatus, value: MESSAGE_STATUS.undeliverable },
      { key: CrmSource, value: `${outcome.channel}:${outcome.template}` },
    ]);
    setCurrentDetails(
      `**Undeliverable** (${outcome.type}): ${outcome.reason}  \n**Message:** ${outcome.template} by ${outcome.channel}` +
        (outcome.task ? `  \n**Task:** ${outcome.task.taskId} for ${outcome.task.ownerId}` : ''),
    );
    if (outcome.task) await startTask(outcome.task, { title: outcome.taskTitle!, customerId: outcome.customerId, dueInMs: 24 * 60 * 60 * 1000 });
    return { undeliverable: { type: outcome.type, reason: outcome.reason } };
  }
  const { sentAt, withheld } = delivered;
  upsertSearchAttributes([{ key: CrmStatus, value: withheld ? MESSAGE_STATUS.withheld : MESSAGE_STATUS.sent }]);
  return withheld ? { sentAt, withheld } : { sentAt };
}

/**
 * Whether a failed delivery is final, and why: a non-retryable failure of the message itself
 * (its recipient erased or refused, no transport for its channel), or the retry bound reached.
 * A message that is not in the outbox is no message to give up on: that delivery fails.
 */
function undeliverableVerdict(err: unknown): { type: string; reason: string } | undefined {
  if (!(err instanceof ActivityFailure)) return undefined;
  const cause = err.cause;
  if (
    cause instanceof ApplicationFailure &&
    cause.type &&
    cause.type !== PERMANENT_FAILURE.messageNotFound &&
    (cause.nonRetryable || (UNDELIVERABLE_TYPES as readonly string[]).includes(cause.type))
  ) {
    return { type: cause.type, reason: cause.message };
  }
  if (cause instanceof TimeoutFailure) {
    const last = cause.cause?.message;
    return { type: RETRIES_EXHAUSTED, reason: `not delivered within ${DELIVERY_RETRY_BOUND}${last ? `; last error: ${last}` : ''}` };
  }
  return undefined;
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
