/**
 * Delivery of queued messages. Idempotent: a message already marked sent is not sent again, and
 * each failed attempt is counted on its row before the retry policy schedules the next one.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../src/db/pool.js';
import { renderTemplate } from '../src/domain/notifications.js';
import type { MessageTransport } from '../src/notifications/transport.js';

export interface NotificationActivityDeps {
  pool: Pool;
  transport: MessageTransport;
}

interface OutboxRow {
  id: string;
  channel: 'email' | 'sms';
  recipient: string;
  template: string;
  payload: Record<string, unknown>;
  created_at: Date;
  sent_at: Date | null;
}

export function createNotificationActivities({ pool, transport }: NotificationActivityDeps) {
  return {
    async deliverMessage(messageId: string): Promise<{ sentAt: string; alreadySent: boolean }> {
      const { rows } = await pool.query<OutboxRow>(
        'SELECT id, channel, recipient, template, payload, created_at, sent_at FROM notification_outbox WHERE id = $1',
        [messageId],
      );
      const row = rows[0];
      if (!row) throw ApplicationFailure.nonRetryable(`message ${messageId} is not in the outbox`, 'MessageNotFound');
      if (row.sent_at) return { sentAt: row.sent_at.toISOString(), alreadySent: true };
      const rendered = renderTemplate(row.template, row.payload);
      try {
        await transport.send({
          id: row.id,
          channel: row.channel,
          recipient: row.recipient,
          template: row.template,
          subject: rendered.subject,
          text: rendered.text,
          payload: row.payload,
          createdAt: row.created_at.toISOString(),
        });
      } catch (err) {
        await pool.query('UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
          messageId,
          String((err as Error).message ?? err).slice(0, 500),
        ]);
        throw err;
      }
      const updated = await pool.query<{ sent_at: Date }>(
        `UPDATE notification_outbox SET sent_at = COALESCE(sent_at, now()), attempts = attempts + 1, last_error = NULL
         WHERE id = $1 RETURNING sent_at`,
        [messageId],
      );
      return { sentAt: updated.rows[0]!.sent_at.toISOString(), alreadySent: false };
    },
  };
}
