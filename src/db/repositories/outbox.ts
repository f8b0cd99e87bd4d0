/**
 * The outbox (`notification_outbox`): every message to a person is first a row here, written in
 * the transaction of the change that causes it, keyed by an idempotency key (the workflow id and a
 * step, or a business key), so a retried activity finds its message instead of queueing a second.
 * Delivery is then started by the process (`deliver` in workflows/notifications.ts), or, for a
 * message that carries a one-time code, done at once by `sendWithSecret`: the code goes to the
 * transport only, never into the row.
 */
import type { Pool, PoolClient } from '../pool.js';
import { renderTemplate } from '../../domain/notifications.js';
import type { MessageTransport } from '../../notifications/transport.js';

export type Channel = 'email' | 'sms';

export interface OutboxMessage {
  customerId?: string | null;
  /** Default: e-mail. */
  channel?: Channel;
  recipient: string;
  template: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
}

export interface OutboxRow {
  id: string;
  customer_id: string | null;
  channel: Channel;
  recipient: string;
  template: string;
  payload: Record<string, unknown>;
  created_at: Date;
  sent_at: Date | null;
  withheld_at: Date | null;
  withheld_reason: string | null;
  attempts: number;
  last_error: string | null;
  undeliverable_at: Date | null;
  undeliverable_type: string | null;
  undeliverable_reason: string | null;
}

export const MESSAGE_STATUSES = ['pending', 'sent', 'withheld', 'undeliverable'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Where a message stands: waiting for (another) attempt, delivered, held back, or given up on. */
export function messageStatus(row: Pick<OutboxRow, 'sent_at' | 'withheld_at' | 'undeliverable_at'>): MessageStatus {
  if (row.sent_at) return 'sent';
  if (row.withheld_at) return 'withheld';
  if (row.undeliverable_at) return 'undeliverable';
  return 'pending';
}

/** Queues a message once per idempotency key, in the caller's transaction; returns its id either way. */
export async function queueMessage(db: Pool | PoolClient, m: OutboxMessage): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO notification_outbox (customer_id, channel, recipient, template, payload, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
     RETURNING id`,
    [m.customerId ?? null, m.channel ?? 'email', m.recipient, m.template, JSON.stringify(m.payload), m.idempotencyKey],
  );
  return rows[0]!.id;
}

/** The message an earlier attempt queued under this key, if any. */
export async function queuedMessage(db: Pool | PoolClient, idempotencyKey: string): Promise<{ id: string; sent: boolean } | undefined> {
  const { rows } = await db.query<{ id: string; sent_at: Date | null }>('SELECT id, sent_at FROM notification_outbox WHERE idempotency_key = $1', [
    idempotencyKey,
  ]);
  return rows[0] && { id: rows[0].id, sent: rows[0].sent_at !== null };
}

export async function readMessage(db: Pool | PoolClient, messageId: string): Promise<OutboxRow | undefined> {
  const { rows } = await db.query<OutboxRow>(
    `SELECT id, customer_id, channel, recipient, template, payload, created_at, sent_at, withheld_at, withheld_reason, attempts, last_error,
            undeliverable_at, undeliverable_type, undeliverable_reason
       FROM notification_outbox WHERE id = $1`,
    [messageId],
  );
  return rows[0];
}

/**
 * Marks a message sent (the first time counts). A `code` left in a payload by a release that
 * stored it goes with the sending: once delivered, the row needs it no more.
 */
export async function markSent(db: Pool | PoolClient, messageId: string): Promise<Date> {
  const { rows } = await db.query<{ sent_at: Date }>(
    `UPDATE notification_outbox SET sent_at = COALESCE(sent_at, now()), attempts = attempts + 1, last_error = NULL, payload = payload - 'code'
     WHERE id = $1 RETURNING sent_at`,
    [messageId],
  );
  return rows[0]!.sent_at;
}

/** A message that must not go out any more (marketing whose consent was withdrawn after it was queued): never sent, and why. */
export async function markWithheld(db: Pool | PoolClient, messageId: string, reason: string): Promise<Date> {
  const { rows } = await db.query<{ withheld_at: Date }>(
    'UPDATE notification_outbox SET withheld_at = COALESCE(withheld_at, now()), withheld_reason = COALESCE(withheld_reason, $2) WHERE id = $1 RETURNING withheld_at',
    [messageId, reason],
  );
  return rows[0]!.withheld_at;
}

/**
 * A message that will not go out: never sent, and why (the failure type and the transport's
 * words). The first verdict counts; a message already sent stays sent.
 */
export async function markUndeliverable(db: Pool | PoolClient, messageId: string, type: string, reason: string): Promise<OutboxRow | undefined> {
  await db.query(
    `UPDATE notification_outbox SET undeliverable_at = COALESCE(undeliverable_at, now()), undeliverable_type = COALESCE(undeliverable_type, $2),
            undeliverable_reason = COALESCE(undeliverable_reason, $3)
      WHERE id = $1 AND sent_at IS NULL`,
    [messageId, type, reason.slice(0, 500)],
  );
  return readMessage(db, messageId);
}

export async function markFailed(db: Pool | PoolClient, messageId: string, error: unknown): Promise<void> {
  await db.query('UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
    messageId,
    String((error as Error)?.message ?? error).slice(0, 500),
  ]);
}

/**
 * Renders a message, with `secret` values (a one-time code, an unsubscribe link) added to what is
 * rendered only, and hands it to the transport. A message with an unsubscribe link carries it in
 * the `List-Unsubscribe` headers too, for one-click unsubscribing (RFC 8058).
 */
export async function transmit(transport: MessageTransport, row: OutboxRow, secret: Record<string, unknown> = {}): Promise<void> {
  const payload = { ...row.payload, ...secret };
  const rendered = renderTemplate(row.template, payload);
  const unsubscribe = typeof secret.unsubscribeUrl === 'string' ? secret.unsubscribeUrl : undefined;
  await transport.send({
    ...(unsubscribe ? { headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } } : {}),
    id: row.id,
    channel: row.channel,
    recipient: row.recipient,
    template: row.template,
    subject: rendered.subject,
    text: rendered.text,
    payload,
    createdAt: row.created_at.toISOString(),
  });
}

/**
 * Sends a queued message at once, with values that must not be stored (a one-time code), and
 * marks it sent: the row keeps only its stored payload.
 */
export async function sendWithSecret(db: Pool | PoolClient, transport: MessageTransport, messageId: string, secret: Record<string, unknown>): Promise<void> {
  const row = await readMessage(db, messageId);
  if (!row) throw new Error(`message ${messageId} is not in the outbox`);
  try {
    await transmit(transport, row, secret);
  } catch (err) {
    // Counted like any attempt; a refusal for good marks the message undeliverable, with its type.
    await markFailed(db, messageId, err);
    const failure = err as { nonRetryable?: boolean; type?: string; message?: string };
    if (failure?.nonRetryable && failure.type) await markUndeliverable(db, messageId, failure.type, String(failure.message));
    throw err;
  }
  await markSent(db, messageId);
}
