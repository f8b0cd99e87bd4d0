/**
 * Delivery of queued messages. Idempotent: a message already marked sent is not sent again, and
 * each failed attempt is counted on its row before the retry policy schedules the next one. A
 * message no retry can deliver (its recipient was erased, the transport refused the address or
 * number for good) is marked undeliverable on its row and fails its attempt with a non-retryable
 * type; `raiseUndeliverable` then hands it to a person as a task.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { markFailed, markSent, markUndeliverable, markWithheld, readMessage, transmit, type OutboxRow } from '../src/db/repositories/outbox.js';
import { accountManagerOf } from '../src/db/repositories/onboardings.js';
import { approverFor } from '../src/db/repositories/tasks.js';
import type { MessageTransport } from '../src/notifications/transport.js';
import { messagePurpose } from '../src/domain/notifications.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { PERMANENT_FAILURE, isPermanent, permanentFailure } from '../src/domain/refusals.js';
import type { OpenedTask } from '../src/domain/tasks.js';
import { hasMarketingConsent, issueUnsubscribeToken } from '../src/db/repositories/consents.js';
import type { Config } from '../src/config.js';
import { openTaskIn } from './tasks.js';

export interface NotificationActivityDeps {
  pool: Pool;
  transport: MessageTransport;
  /** Where the unsubscribe link of a marketing message points (PUBLIC_BASE_URL). */
  consent: Config['consent'];
}

/** How long the person who gets an undeliverable message's task has to act on it. */
export const UNDELIVERABLE_TASK_DUE_MS = 24 * 60 * 60 * 1000;

export interface Undeliverable {
  messageId: string;
  channel: OutboxRow['channel'];
  template: string;
  type: string;
  reason: string;
  /** The task for a person, when there is something they can do (not for an erased recipient). */
  task?: OpenedTask;
  taskTitle?: string;
  customerId?: string;
}

/** The secret part of a marketing message: its own unsubscribe link (only the token's hash is stored). */
async function unsubscribeLink(pool: Pool, row: OutboxRow, baseUrl: string): Promise<Record<string, unknown>> {
  if (messagePurpose(row.template) !== 'marketing' || !row.customer_id) return {};
  const token = await issueUnsubscribeToken(pool, { customerId: row.customer_id, channel: row.channel, messageId: row.id });
  return { unsubscribeUrl: `${baseUrl}/unsubscribe/${token}` };
}

/**
 * Whether a message's recipient was erased after it was queued: the erasure replaces the recipient
 * of every message of the customer (and of a lead's person) with `erased`, also of a message to
 * staff about them, which would name them.
 */
const erasedRecipient = (row: OutboxRow) => row.recipient === 'erased';

/**
 * Whom an undeliverable message concerns: the customer's account manager, else a back-office
 * person. A task's own message (template `task-assigned`) raises none: the task is in its owner's
 * list whether the message arrives or not, and a task about it would only tell the same person.
 */
async function taskOwnerFor(pool: Pool, row: OutboxRow, type: string): Promise<string | undefined> {
  if (type === PERMANENT_FAILURE.recipientErased || type === PERMANENT_FAILURE.messageNotFound || row.template === 'task-assigned') return undefined;
  return (row.customer_id ? await accountManagerOf(pool, row.customer_id) : undefined) ?? (await approverFor(pool, 'system'));
}

export function createNotificationActivities({ pool, transport, consent }: NotificationActivityDeps) {
  return {
    async deliverMessage(messageId: string): Promise<{ sentAt: string; alreadySent: boolean; withheld?: string; channel?: string; template?: string }> {
      const row = await readMessage(pool, messageId);
      if (!row) throw permanentFailure(PERMANENT_FAILURE.messageNotFound, `message ${messageId} is not in the outbox`);
      const about = { channel: row.channel, template: row.template };
      if (row.sent_at) return { sentAt: row.sent_at.toISOString(), alreadySent: true, ...about };
      if (row.undeliverable_at)
        throw ApplicationFailure.create({ type: row.undeliverable_type!, message: row.undeliverable_reason ?? 'undeliverable', nonRetryable: true });
      if (erasedRecipient(row)) {
        const why = 'the recipient was erased';
        await markUndeliverable(pool, messageId, PERMANENT_FAILURE.recipientErased, why);
        throw permanentFailure(PERMANENT_FAILURE.recipientErased, why);
      }
      // Consent withdrawn while a marketing message waited for delivery (an outage, a retry): it stays undelivered.
      if (messagePurpose(row.template) === 'marketing' && row.customer_id && !(await hasMarketingConsent(pool, row.customer_id, row.channel))) {
        const withheld = `no marketing consent for ${row.channel}`;
        return { sentAt: (await markWithheld(pool, messageId, withheld)).toISOString(), alreadySent: false, withheld, ...about };
      }
      try {
        await transmit(transport, row, await unsubscribeLink(pool, row, consent.publicBaseUrl));
      } catch (err) {
        await markFailed(pool, messageId, err);
        if (isPermanent(err)) {
          const failure = err as ApplicationFailure;
          await markUndeliverable(pool, messageId, failure.type ?? PERMANENT_FAILURE.recipientInvalid, failure.message);
        }
        throw err;
      }
      return { sentAt: (await markSent(pool, messageId)).toISOString(), alreadySent: false, ...about };
    },

    /**
     * Gives a message up: marks it undeliverable (if the failed attempt has not already) and, when
     * a person can do something about it (correct the number, reach the customer another way),
     * opens a task for the customer's account manager or the back office, in one transaction.
     */
    async raiseUndeliverable(input: { messageId: string; workflowId: string; type: string; reason: string }): Promise<Undeliverable> {
      return inTransaction(pool, async (db) => {
        const row = await markUndeliverable(db, input.messageId, input.type, input.reason);
        if (!row) throw permanentFailure(PERMANENT_FAILURE.messageNotFound, `message ${input.messageId} is not in the outbox`);
        const type = row.undeliverable_type ?? input.type;
        const reason = row.undeliverable_reason ?? input.reason;
        const outcome: Undeliverable = {
          messageId: row.id,
          channel: row.channel,
          template: row.template,
          type,
          reason,
          customerId: row.customer_id ?? undefined,
        };
        const ownerId = await taskOwnerFor(pool, row, type);
        if (!ownerId) return outcome;
        const title = `Message undeliverable: ${row.template} by ${row.channel === 'sms' ? 'SMS' : 'e-mail'} (${type})`;
        const task = await openTaskIn(db, {
          kind: 'message-undeliverable',
          title,
          priority: 'high',
          ownerId,
          orAccountManager: true,
          dueInMs: UNDELIVERABLE_TASK_DUE_MS,
          customerId: row.customer_id ?? undefined,
          process: CRM_PROCESS.notification,
          step: 'undeliverable',
          taskId: crypto.randomUUID(),
          workflowId: input.workflowId,
          actor: 'system',
        });
        return { ...outcome, task, taskTitle: title };
      });
    },
  };
}
