/**
 * Offers (`offers`) and their timeline (`offer_events`): written by the offer activities in the
 * transaction of each step (decided, deferred, presented, answered, expired), read by the API. An
 * entry is keyed by its status (a deferral by its resume time), so a retried step writes it once.
 */
import type { Pool, PoolClient } from '../pool.js';
import { customerExists } from './customers.js';
import type { Transition } from '../../domain/customers.js';
import type { EligibilityRule, OfferKind, OfferState, OfferStatus } from '../../domain/offers.js';

export interface OfferEvent {
  status: OfferStatus;
  at: Date | string;
  actor: string;
  reason?: string;
  key: string;
}

export async function appendOfferEvent(db: Pool | PoolClient, offerId: string, e: OfferEvent): Promise<void> {
  await db.query(
    `INSERT INTO offer_events (offer_id, status, at, actor, reason, entry_key) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (offer_id, entry_key) DO NOTHING`,
    [offerId, e.status, e.at, e.actor, e.reason ?? null, e.key],
  );
}

/** A row of `offers`, as the offer activities and the reads get it. */
export interface OfferRow {
  id: string;
  customer_id: string;
  kind: OfferKind;
  product_id: string;
  replaces_product_id: string | null;
  price: string;
  valid_until: Date;
  status: string;
  rule: EligibilityRule | null;
  reason: string | null;
  campaign_id: string | null;
  workflow_id: string;
  created_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
}

export type OfferView = OfferState & { workflowId: string; createdAt: string; decidedAt: string | null; decidedBy: string | null };

/** An offer as the record holds it; its status is that of its latest step (e.g. deferred). */
export async function readOffer(db: Pool | PoolClient, offerId: string): Promise<OfferView | undefined> {
  const { rows } = await db.query<OfferRow>('SELECT * FROM offers WHERE id = $1', [offerId]);
  const r = rows[0];
  if (!r) return undefined;
  const events = await db.query<{ status: OfferStatus; at: Date; actor: string; reason: string | null }>(
    'SELECT status, at, actor, reason FROM offer_events WHERE offer_id = $1 ORDER BY at, id',
    [offerId],
  );
  const transitions: Transition[] = events.rows.map((e) => ({
    status: e.status,
    at: e.at.toISOString(),
    actor: e.actor,
    ...(e.reason !== null ? { reason: e.reason } : {}),
  }));
  return {
    offerId: r.id,
    customerId: r.customer_id,
    kind: r.kind,
    productId: r.product_id,
    replacesProductId: r.replaces_product_id,
    price: Number(r.price),
    validUntil: r.valid_until.toISOString(),
    status: (events.rows.at(-1)?.status ?? (r.status === 'pending' ? 'checking' : r.status)) as OfferStatus,
    ...(r.rule ? { rule: r.rule } : {}),
    ...(r.reason !== null ? { reason: r.reason } : {}),
    ...(r.campaign_id ? { campaignId: r.campaign_id } : {}),
    transitions,
    workflowId: r.workflow_id,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    decidedBy: r.decided_by,
  };
}

export interface OfferSummary {
  offerId: string;
  kind: string;
  productId: string;
  replacesProductId: string | null;
  price: number;
  validUntil: string;
  status: string;
  rule: string | null;
  reason: string | null;
  campaignId: string | null;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
}

/** A customer's offers, newest first (at most `limit`); undefined when there is no such customer. */
export async function listCustomerOffers(db: Pool | PoolClient, customerId: string, limit = 200): Promise<OfferSummary[] | undefined> {
  if (!(await customerExists(db, customerId))) return undefined;
  const { rows } = await db.query<OfferRow>('SELECT * FROM offers WHERE customer_id = $1 ORDER BY created_at DESC, id LIMIT $2', [customerId, limit]);
  return rows.map((r) => ({
    offerId: r.id,
    kind: r.kind,
    productId: r.product_id,
    replacesProductId: r.replaces_product_id,
    price: Number(r.price),
    validUntil: r.valid_until.toISOString(),
    status: r.status,
    rule: r.rule,
    reason: r.reason,
    campaignId: r.campaign_id,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    decidedBy: r.decided_by,
  }));
}

/** Where to send an answer: the offer's workflow, and its status in the record. */
export async function offerProcess(db: Pool | PoolClient, offerId: string): Promise<{ workflowId: string; status: string; customerId: string } | undefined> {
  const { rows } = await db.query<{ workflow_id: string; status: string; customer_id: string }>(
    'SELECT workflow_id, status, customer_id FROM offers WHERE id = $1',
    [offerId],
  );
  return rows[0] ? { workflowId: rows[0].workflow_id, status: rows[0].status, customerId: rows[0].customer_id } : undefined;
}
