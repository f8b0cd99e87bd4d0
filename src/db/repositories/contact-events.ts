/**
 * The contact history (`contact_events`): every interaction with a lead or a customer, one row
 * each, keyed by the recording workflow's id so that a retry or a repeated request finds its row.
 * A lead that became a customer files its interactions under the customer too.
 */
import type { Pool, PoolClient } from '../pool.js';
import type { Interaction, RecordInteractionInput } from '../../domain/contacts.js';
import type { CrmProcess } from '../../domain/processes.js';

/** A row of `contact_events` as it is read. */
export interface ContactEventRow {
  id: string;
  lead_id: string | null;
  customer_id: string | null;
  channel: string;
  direction: string;
  kind: string;
  summary: string;
  occurred_at: Date;
  recorded_by: string;
  process: string | null;
  workflow_id: string | null;
}

const COLUMNS = 'id, lead_id, customer_id, channel, direction, kind, summary, occurred_at, recorded_by, process, workflow_id';

function toInteraction(r: ContactEventRow): Interaction {
  return {
    id: r.id,
    leadId: r.lead_id,
    customerId: r.customer_id,
    channel: r.channel,
    direction: r.direction,
    kind: r.kind,
    summary: r.summary,
    occurredAt: r.occurred_at.toISOString(),
    recordedBy: r.recorded_by,
    process: r.process,
    workflowId: r.workflow_id,
  };
}

/** A contact event a process writes itself (a campaign message, an offer, a note), keyed by its step. */
export interface ContactEventWrite {
  customerId: string;
  channel: 'email' | 'sms' | 'note';
  direction: 'outbound' | 'internal';
  kind: string;
  summary: string;
  occurredAt: Date;
  recordedBy: string;
  process: Extract<CrmProcess, 'retention' | 'offers'>;
  workflowId: string;
  idempotencyKey: string;
}

export async function recordContactEvent(db: Pool | PoolClient, e: ContactEventWrite): Promise<void> {
  await db.query(
    `INSERT INTO contact_events (customer_id, channel, direction, kind, summary, occurred_at, recorded_by, process, workflow_id, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [e.customerId, e.channel, e.direction, e.kind, e.summary, e.occurredAt, e.recordedBy, e.process, e.workflowId, e.idempotencyKey],
  );
}

export async function insertInteraction(db: Pool | PoolClient, input: RecordInteractionInput & { workflowId: string }): Promise<Interaction> {
  const { subject, interaction, actor, workflowId } = input;
  const { rows } = await db.query<ContactEventRow>(
    `INSERT INTO contact_events (customer_id, lead_id, channel, direction, kind, summary, occurred_at, recorded_by, process, workflow_id, idempotency_key)
     VALUES (COALESCE($1::uuid, (SELECT customer_id FROM leads WHERE id = $2::uuid)), $2, $3, $4, 'interaction', $5, COALESCE($6::timestamptz, now()), $7, 'contacts', $8, $8)
     ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
     RETURNING ${COLUMNS}`,
    [
      subject.kind === 'customer' ? subject.customerId : null,
      subject.kind === 'lead' ? subject.leadId : null,
      interaction.channel,
      interaction.direction,
      interaction.summary,
      interaction.occurredAt ?? null,
      actor,
      workflowId,
    ],
  );
  return toInteraction(rows[0]!);
}

/** Files a lead's interactions under the customer it became. */
export async function fileLeadInteractionsUnder(db: Pool | PoolClient, leadId: string, customerId: string): Promise<void> {
  await db.query('UPDATE contact_events SET customer_id = $2 WHERE lead_id = $1 AND customer_id IS NULL', [leadId, customerId]);
}

/** Where the previous page ended (the last item's time, to the millisecond, and id). */
export interface HistoryCursor {
  at: string;
  id: string;
}

/** A page of the contact history of a lead or a customer, newest first. */
export async function listInteractions(
  db: Pool | PoolClient,
  subject: 'lead' | 'customer',
  id: string,
  cursor: HistoryCursor | undefined,
  limit: number,
): Promise<{ items: Interaction[]; next?: HistoryCursor }> {
  const column = subject === 'lead' ? 'lead_id' : 'customer_id';
  const params: unknown[] = [id, limit + 1];
  let afterCursor = '';
  if (cursor) {
    params.push(cursor.at, cursor.id);
    afterCursor = `AND (date_trunc('milliseconds', occurred_at), id) < ($3::timestamptz, $4::uuid)`;
  }
  const { rows } = await db.query<ContactEventRow>(
    `SELECT ${COLUMNS} FROM contact_events WHERE ${column} = $1 ${afterCursor}
     ORDER BY date_trunc('milliseconds', occurred_at) DESC, id DESC LIMIT $2`,
    params,
  );
  const items = rows.slice(0, limit).map(toInteraction);
  const last = items.at(-1);
  return { items, ...(rows.length > limit && last ? { next: { at: last.occurredAt, id: last.id } } : {}) };
}
