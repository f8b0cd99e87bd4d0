/**
 * Delivery of queued messages. Idempotent: a message already marked sent is not sent again, and
 * each failed attempt is counted on its row before the retry policy schedules the next one.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../src/db/pool.js';
import { markFailed, markSent, markWithheld, readMessage, transmit, type OutboxRow } from '../src/db/repositories/outbox.js';
import type { MessageTransport } from '../src/notifications/transport.js';
import { messagePurpose } from '../src/domain/notifications.js';
import { hasMarketingConsent, issueUnsubscribeToken } from '../src/db/repositories/consents.js';
import type { Config } from '../src/config.js';

export interface NotificationActivityDeps {
  pool: Pool;
  transport: MessageTransport;
  /** Where the unsubscribe link of a marketing message points (PUBLIC_BASE_URL). */
  consent: Config['consent'];
}

/** The secret part of a marketing message: its own unsubscribe link (only the token's hash is stored). */
async function unsubscribeLink(pool: Pool, row: OutboxRow, baseUrl: string): Promise<Record<string, unknown>> {
  if (messagePurpose(row.template) !== 'marketing' || !row.customer_id) return {};
  const token = await issueUnsubscribeToken(pool, { customerId: row.customer_id, channel: row.channel, messageId: row.id });
  return { unsubscribeUrl: `${baseUrl}/unsubscribe/${token}` };
}

export function createNotificationActivities({ pool, transport, consent }: NotificationActivityDeps) {
  return {
    async deliverMessage(messageId: string): Promise<{ sentAt: string; alreadySent: boolean; withheld?: string }> {
      const row = await readMessage(pool, messageId);
      if (!row) throw ApplicationFailure.nonRetryable(`message ${messageId} is not in the outbox`, 'MessageNotFound');
      if (row.sent_at) return { sentAt: row.sent_at.toISOString(), alreadySent: true };
      // Consent withdrawn while a marketing message waited for delivery (an outage, a retry): it stays undelivered.
      if (messagePurpose(row.template) === 'marketing' && row.customer_id && !(await hasMarketingConsent(pool, row.customer_id, row.channel))) {
        const withheld = `no marketing consent for ${row.channel}`;
        return { sentAt: (await markWithheld(pool, messageId, withheld)).toISOString(), alreadySent: false, withheld };
      }
      try {
        await transmit(transport, row, await unsubscribeLink(pool, row, consent.publicBaseUrl));
      } catch (err) {
        await markFailed(pool, messageId, err);
        throw err;
      }
      return { sentAt: (await markSent(pool, messageId)).toISOString(), alreadySent: false };
    },
  };
}
