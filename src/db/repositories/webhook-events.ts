/**
 * The event outbox (`webhook_events`): an activity records an event in the transaction of its
 * effect, keyed by the effect (`idempotencyKey`), so a retry records nothing twice and a rollback
 * records nothing. In the same statement the event is fanned out to every active subscription of
 * its type, and a NOTIFY on `crm_webhook_events` (delivered by PostgreSQL only on commit) lets the
 * worker wake those subscriptions' delivery workflows at once (src/worker/webhook-wakeup.ts).
 */
import type { Pool, PoolClient } from '../pool.js';
import { EVENT_TYPES, type EventData, type EventType } from '../../domain/webhooks.js';

export const WEBHOOK_NOTIFY_CHANNEL = 'crm_webhook_events';

export interface NewEvent<T extends EventType> {
  type: T;
  data: EventData<T>;
  /** The customer the event is about; a subscriber gets one customer's events in order. */
  customerId?: string | null;
  /** Whose events keep an order of their own instead of the customer's: a funnel's are its lead's (`lead:<id>`), before and after it has a customer. */
  subject?: string;
  /** The effect: one event per key, whatever the retries. */
  idempotencyKey: string;
}

/** Records an event once per key in the caller's transaction and queues it for its subscriptions. */
export async function recordEvent<T extends EventType>(db: Pool | PoolClient, event: NewEvent<T>): Promise<void> {
  const spec = EVENT_TYPES[event.type];
  // A wrong payload is a bug of the emitting activity: it fails (and retries) rather than send it.
  const data = spec.data.parse(event.data);
  const orderingKey = event.subject ?? (event.customerId ? `customer:${event.customerId}` : `event:${event.idempotencyKey}`);
  await db.query(
    `WITH e AS (
       INSERT INTO webhook_events (type, version, ordering_key, customer_id, data, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, seq, type, ordering_key
     ), d AS (
       INSERT INTO webhook_deliveries (subscription_id, event_id, event_seq, ordering_key)
       SELECT s.id, e.id, e.seq, e.ordering_key FROM e JOIN webhook_subscriptions s ON s.active AND e.type = ANY (s.event_types)
       RETURNING subscription_id
     )
     SELECT pg_notify($7, current_schema() || ' ' || string_agg(DISTINCT subscription_id::text, ',')) FROM d HAVING count(*) > 0`,
    [event.type, spec.version, orderingKey, event.customerId ?? null, JSON.stringify(data), event.idempotencyKey, WEBHOOK_NOTIFY_CHANNEL],
  );
}
