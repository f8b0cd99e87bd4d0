/**
 * Delivery of queued messages. Idempotent: a message already marked sent is not sent again, and
 * each failed attempt is counted on its row before the retry policy schedules the next one.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../src/db/pool.js';
import { markFailed, markSent, readMessage, transmit } from '../src/db/repositories/outbox.js';
import type { MessageTransport } from '../src/notifications/transport.js';

export interface NotificationActivityDeps {
  pool: Pool;
  transport: MessageTransport;
}

export function createNotificationActivities({ pool, transport }: NotificationActivityDeps) {
  return {
    async deliverMessage(messageId: string): Promise<{ sentAt: string; alreadySent: boolean }> {
      const row = await readMessage(pool, messageId);
      if (!row) throw ApplicationFailure.nonRetryable(`message ${messageId} is not in the outbox`, 'MessageNotFound');
      if (row.sent_at) return { sentAt: row.sent_at.toISOString(), alreadySent: true };
      try {
        await transmit(transport, row);
      } catch (err) {
        await markFailed(pool, messageId, err);
        throw err;
      }
      return { sentAt: (await markSent(pool, messageId)).toISOString(), alreadySent: false };
    },
  };
}
