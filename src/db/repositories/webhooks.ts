/**
 * Webhook subscriptions and their deliveries: what the admin API manages and what the delivery
 * workflow's activity works through. Events themselves are written by ./webhook-events.ts.
 */
import type { Pool, PoolClient } from '../pool.js';
import { after, orderBy, pageOf, type Position, type SortOrder } from '../keyset.js';
import type { DeliveryStatus, EventType } from '../../domain/webhooks.js';

type Db = Pool | PoolClient;

export interface Subscription {
  id: string;
  url: string;
  description: string | null;
  eventTypes: EventType[];
  active: boolean;
  deactivatedReason: string | null;
  /** Until when the secret before the last rotation still signs too; null when none does. */
  previousSecretExpiresAt: string | null;
  version: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

interface SubscriptionRow {
  id: string;
  url: string;
  description: string | null;
  event_types: EventType[];
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  active: boolean;
  deactivated_reason: string | null;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** A subscription with what signing needs: the secrets that sign now. */
export interface SigningSubscription extends Subscription {
  secrets: string[];
}

const COLUMNS =
  'id, url, description, event_types, secret, previous_secret, previous_secret_expires_at, active, deactivated_reason, version, created_by, created_at, updated_at';

function toSubscription(r: SubscriptionRow): Subscription {
  const previousLive = r.previous_secret !== null && r.previous_secret_expires_at !== null && r.previous_secret_expires_at > new Date();
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    active: r.active,
    deactivatedReason: r.deactivated_reason,
    previousSecretExpiresAt: previousLive ? r.previous_secret_expires_at!.toISOString() : null,
    version: r.version,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function insertSubscription(
  db: Db,
  s: { id: string; url: string; eventTypes: EventType[]; description?: string; secret: string; active?: boolean; createdBy: string },
): Promise<Subscription> {
  const { rows } = await db.query<SubscriptionRow>(
    `INSERT INTO webhook_subscriptions (id, url, event_types, description, secret, active, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [s.id, s.url, s.eventTypes, s.description ?? null, s.secret, s.active ?? true, s.createdBy],
  );
  return toSubscription(rows[0]!);
}

export async function readSubscription(db: Db, id: string, lock = false): Promise<Subscription | undefined> {
  const { rows } = await db.query<SubscriptionRow>(`SELECT ${COLUMNS} FROM webhook_subscriptions WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] && toSubscription(rows[0]);
}

export async function readSigningSubscription(db: Db, id: string): Promise<SigningSubscription | undefined> {
  const { rows } = await db.query<SubscriptionRow>(`SELECT ${COLUMNS} FROM webhook_subscriptions WHERE id = $1`, [id]);
  const r = rows[0];
  if (!r) return undefined;
  const s = toSubscription(r);
  return { ...s, secrets: s.previousSecretExpiresAt ? [r.secret, r.previous_secret!] : [r.secret] };
}

const BY_CREATED: SortOrder = { expression: 'created_at', cast: 'timestamptz', direction: 'asc' };

export async function listSubscriptions(db: Db, position: Position | undefined, limit: number): Promise<{ items: Subscription[]; next?: Position }> {
  const params: unknown[] = [];
  const where = position ? `WHERE ${after(BY_CREATED, position, params)}` : '';
  params.push(limit + 1);
  const { rows } = await db.query<SubscriptionRow & { sort_value: string }>(
    `SELECT ${COLUMNS}, created_at::text AS sort_value FROM webhook_subscriptions ${where} ORDER BY ${orderBy(BY_CREATED)} LIMIT $${params.length}`,
    params,
  );
  const page = pageOf(rows, limit);
  return { items: page.rows.map(toSubscription), next: page.next };
}

export async function updateSubscription(
  db: Db,
  id: string,
  fields: { url?: string; eventTypes?: EventType[]; description?: string | null; active?: boolean; deactivatedReason?: string | null },
): Promise<Subscription | undefined> {
  const { rows } = await db.query<SubscriptionRow>(
    `UPDATE webhook_subscriptions SET
       url = COALESCE($2, url), event_types = COALESCE($3, event_types),
       description = CASE WHEN $4 THEN $5 ELSE description END,
       active = COALESCE($6, active),
       deactivated_reason = CASE WHEN COALESCE($6, active) THEN NULL WHEN $7::text IS NOT NULL THEN $7 ELSE deactivated_reason END,
       version = version + 1, updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      fields.url ?? null,
      fields.eventTypes ?? null,
      fields.description !== undefined,
      fields.description ?? null,
      fields.active ?? null,
      fields.deactivatedReason ?? null,
    ],
  );
  return rows[0] && toSubscription(rows[0]);
}

/** A new secret; the current one keeps signing beside it until `previousValidUntil`. */
export async function rotateSecret(db: Db, id: string, secret: string, previousValidUntil: Date): Promise<Subscription | undefined> {
  const { rows } = await db.query<SubscriptionRow>(
    `UPDATE webhook_subscriptions SET previous_secret = secret, previous_secret_expires_at = $3, secret = $2, version = version + 1, updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, secret, previousValidUntil],
  );
  return rows[0] && toSubscription(rows[0]);
}

/** Deletes a subscription with its deliveries and their log; the events stay for other subscribers. */
export async function deleteSubscription(db: Db, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM webhook_subscriptions WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

// Deliveries ---------------------------------------------------------------------------------------

export interface DueDelivery {
  id: string;
  orderingKey: string;
  attempts: number;
  pendingSince: Date;
  event: { id: string; type: EventType; version: number; data: unknown; occurredAt: Date };
}

/**
 * What is due for a subscription, in event order: every pending delivery of a subject whose first
 * pending delivery is due. A subject waiting for a retry holds back its later events; others go on.
 */
export async function dueDeliveries(db: Db, subscriptionId: string, limit: number): Promise<DueDelivery[]> {
  const { rows } = await db.query<{
    id: string;
    ordering_key: string;
    attempts: number;
    pending_since: Date;
    event_id: string;
    type: EventType;
    version: number;
    data: unknown;
    occurred_at: Date;
  }>(
    `SELECT d.id, d.ordering_key, d.attempts, d.pending_since, e.id AS event_id, e.type, e.version, e.data, e.occurred_at
     FROM (SELECT d.*, first_value(d.next_attempt_at) OVER (PARTITION BY d.ordering_key ORDER BY d.event_seq) AS head_due
           FROM webhook_deliveries d WHERE d.subscription_id = $1 AND d.status = 'pending') d
     JOIN webhook_events e ON e.id = d.event_id
     WHERE d.head_due <= now()
     ORDER BY d.event_seq
     LIMIT $2`,
    [subscriptionId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    orderingKey: r.ordering_key,
    attempts: r.attempts,
    pendingSince: r.pending_since,
    event: { id: r.event_id, type: r.type, version: r.version, data: r.data, occurredAt: r.occurred_at },
  }));
}

/** When the earliest waiting subject is due again (in ms from now, 0 if already); null when nothing is pending. */
export async function nextDueInMs(db: Db, subscriptionId: string): Promise<number | null> {
  const { rows } = await db.query<{ ms: string | null }>(
    `SELECT GREATEST(0, EXTRACT(EPOCH FROM (min(head_due) - now())) * 1000)::bigint AS ms
     FROM (SELECT first_value(next_attempt_at) OVER (PARTITION BY ordering_key ORDER BY event_seq) AS head_due
           FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'pending') d`,
    [subscriptionId],
  );
  return rows[0]?.ms == null ? null : Number(rows[0].ms);
}

export interface AttemptOutcome {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

/**
 * Records one attempt and where it leaves the delivery: delivered, retried at `retryAt`, or
 * dead-lettered. Only a pending delivery moves (a redelivery racing an old attempt stays pending).
 */
export async function recordAttempt(
  db: Db,
  deliveryId: string,
  outcome: AttemptOutcome,
  next: { status: 'delivered' } | { status: 'pending'; retryAt: Date } | { status: 'dead-lettered' },
): Promise<void> {
  await db.query('INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, error) VALUES ($1, $2, $3, $4)', [
    deliveryId,
    outcome.statusCode,
    outcome.latencyMs,
    outcome.error,
  ]);
  await db.query(
    `UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(), last_status_code = $2, last_error = $3, last_latency_ms = $4,
       status = $5, next_attempt_at = COALESCE($6, next_attempt_at),
       delivered_at = CASE WHEN $5 = 'delivered' THEN now() END,
       dead_lettered_at = CASE WHEN $5 = 'dead-lettered' THEN now() END
     WHERE id = $1 AND status = 'pending'`,
    [deliveryId, outcome.statusCode, outcome.error, outcome.latencyMs, next.status, next.status === 'pending' ? next.retryAt : null],
  );
}

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: EventType;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  deliveredAt: string | null;
  deadLetteredAt: string | null;
  createdAt: string;
  attemptLog: Array<{ at: string; statusCode: number | null; latencyMs: number; error: string | null }>;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  type: EventType;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  delivered_at: Date | null;
  dead_lettered_at: Date | null;
  created_at: Date;
  attempt_log: Array<{ at: string; statusCode: number | null; latencyMs: number; error: string | null }>;
  sort_value: string;
}

const DELIVERY_SELECT = `SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.last_latency_ms,
    d.delivered_at, d.dead_lettered_at, d.created_at, d.created_at::text AS sort_value,
    COALESCE((SELECT jsonb_agg(jsonb_build_object('at', a.attempted_at, 'statusCode', a.status_code, 'latencyMs', a.latency_ms, 'error', a.error) ORDER BY a.id)
              FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS attempt_log
  FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id`;

function toDelivery(r: DeliveryRow): DeliveryView {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    lastLatencyMs: r.last_latency_ms,
    deliveredAt: r.delivered_at?.toISOString() ?? null,
    deadLetteredAt: r.dead_lettered_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    attemptLog: r.attempt_log.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
  };
}

const DELIVERIES_BY_CREATED: SortOrder = { expression: 'd.created_at', cast: 'timestamptz', direction: 'asc' };

/** The delivery log of a subscription, oldest first, by status and event type. */
export async function listDeliveries(
  db: Db,
  subscriptionId: string,
  filter: { status?: DeliveryStatus; eventType?: EventType },
  position: Position | undefined,
  limit: number,
): Promise<{ items: DeliveryView[]; next?: Position }> {
  const params: unknown[] = [subscriptionId];
  const where = ['d.subscription_id = $1'];
  if (filter.status) where.push(`d.status = $${params.push(filter.status)}`);
  if (filter.eventType) where.push(`e.type = $${params.push(filter.eventType)}`);
  if (position) where.push(after(DELIVERIES_BY_CREATED, position, params).replace('id)', 'd.id)'));
  params.push(limit + 1);
  const { rows } = await db.query<DeliveryRow>(`${DELIVERY_SELECT} WHERE ${where.join(' AND ')} ORDER BY d.created_at, d.id LIMIT $${params.length}`, params);
  const page = pageOf(rows, limit);
  return { items: page.rows.map(toDelivery), next: page.next };
}

export async function readDelivery(db: Db, subscriptionId: string, deliveryId: string): Promise<DeliveryView | undefined> {
  const { rows } = await db.query<DeliveryRow>(`${DELIVERY_SELECT} WHERE d.subscription_id = $1 AND d.id = $2`, [subscriptionId, deliveryId]);
  return rows[0] && toDelivery(rows[0]);
}

/**
 * Puts dead-lettered (or, for one named delivery, delivered) deliveries back to pending, due now,
 * with a fresh dead-letter clock; answers how many moved.
 */
export async function redeliver(db: Db, subscriptionId: string, deliveryId?: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), pending_since = now(), delivered_at = NULL, dead_lettered_at = NULL
     WHERE subscription_id = $1 AND ${deliveryId ? "id = $2 AND status <> 'pending'" : "status = 'dead-lettered'"}`,
    deliveryId ? [subscriptionId, deliveryId] : [subscriptionId],
  );
  return rowCount ?? 0;
}
