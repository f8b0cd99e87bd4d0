/**
 * What is held about a person known only as a lead, found by their e-mail address: their leads
 * that belong to no customer, with each lead's timeline (`lead_transitions`), corrections
 * (`audit_log`), interactions (`contact_events`) and messages (`notification_outbox`). The GDPR
 * export reads it; the erasure anonymises it. A lead that became a customer belongs to that
 * customer and is covered by the customer's own requests: nothing here reads or touches a row of
 * a customer, even one under the same address.
 */
import type { Pool, PoolClient } from '../pool.js';

/** The leads of no customer under a normalised address, oldest first. */
export async function leadsOnlyUnder(db: Pool | PoolClient, email: string): Promise<Array<{ id: string; workflowId: string }>> {
  const { rows } = await db.query<{ id: string; workflow_id: string }>(
    'SELECT id, workflow_id FROM leads WHERE email_normalized = $1 AND customer_id IS NULL ORDER BY created_at, id',
    [email],
  );
  return rows.map((r) => ({ id: r.id, workflowId: r.workflow_id }));
}

/** The person's messages: about one of their leads, or to their address, and never a customer's. */
const MESSAGES = `customer_id IS NULL AND (payload->>'leadId' = ANY($1::text[]) OR lower(recipient) = $2)`;

/** Rows of imports about the person as a lead: $1 their lead ids, $2 the address (rows of no customer). */
const IMPORTED_ROWS = '(lead_id = ANY($1::uuid[]) OR (email_normalized = $2 AND customer_id IS NULL))';

/** Every row held about the person, table by table. */

export async function leadDataOf(db: Pool | PoolClient, email: string): Promise<Record<string, unknown[]>> {
  const leads = (await db.query('SELECT * FROM leads WHERE email_normalized = $1 AND customer_id IS NULL ORDER BY created_at, id', [email])).rows;
  const ids = leads.map((l: { id: string }) => l.id);
  const q = async (sql: string, params: unknown[]) => (await db.query(sql, params)).rows;
  return {
    leads,
    lead_transitions: await q('SELECT * FROM lead_transitions WHERE lead_id = ANY($1::uuid[]) ORDER BY lead_id, at, kind, seq', [ids]),
    audit_log: await q('SELECT * FROM audit_log WHERE lead_id = ANY($1::uuid[]) ORDER BY occurred_at, id', [ids]),
    contact_events: await q('SELECT * FROM contact_events WHERE lead_id = ANY($1::text[]) AND customer_id IS NULL ORDER BY occurred_at, id', [ids]),
    notification_outbox: await q(`SELECT * FROM notification_outbox WHERE ${MESSAGES} ORDER BY created_at, id`, [ids, email]),
    import_rows: await q(`SELECT * FROM import_rows WHERE ${IMPORTED_ROWS} ORDER BY import_id, row_number`, [ids, email]),
  };
}

/**
 * Anonymises everything held about the person in the caller's transaction; returns the rows
 * changed per table. What stays is what is no datum about them: which stage a lead reached when,
 * who owned it, that a message went out. Idempotent: a second run finds nothing under the address
 * (the leads no longer carry it) and changes nothing.
 */
export async function eraseLeadData(db: PoolClient, email: string, erasedReason: string): Promise<Record<string, number>> {
  const ids = (await leadsOnlyUnder(db, email)).map((l) => l.id);
  const count = async (sql: string, params: unknown[]) => (await db.query(sql, params)).rowCount ?? 0;
  const rows: Record<string, number> = {};
  // Corrections keep who changed which field when; the values go.
  rows.audit_log = await count(
    'UPDATE audit_log SET old_value = NULL, new_value = NULL WHERE lead_id = ANY($1::uuid[]) AND (old_value IS NOT NULL OR new_value IS NOT NULL)',
    [ids],
  );
  // The timeline keeps its stages, owners and times; free-text reasons may quote the person.
  rows.lead_transitions = await count(
    'UPDATE lead_transitions SET reason = NULL WHERE lead_id = ANY($1::uuid[]) AND reason IS DISTINCT FROM $2 AND reason IS NOT NULL',
    [ids, erasedReason],
  );
  rows.lead_deal_changes = await count('UPDATE lead_deal_changes SET reason = NULL WHERE lead_id = ANY($1::uuid[]) AND reason IS NOT NULL', [ids]);
  // A task about the lead names the person in its title and may quote them in its outcome; who had
  // which kind of task, when it was due and how it ended stay.
  rows.task_events = await count(
    `UPDATE task_events SET outcome = NULL, reason = NULL
      WHERE task_id IN (SELECT id FROM tasks WHERE lead_id = ANY($1::uuid[])) AND (outcome IS NOT NULL OR reason IS NOT NULL)`,
    [ids],
  );
  rows.tasks = await count(`UPDATE tasks SET title = 'Task about an erased person', outcome = NULL, updated_at = now() WHERE lead_id = ANY($1::uuid[])`, [ids]);
  rows.contact_events = await count(
    `UPDATE contact_events SET summary = '[erased]' WHERE lead_id = ANY($1::text[]) AND customer_id IS NULL AND summary <> '[erased]'`,
    [ids],
  );
  // A message to an owner about the lead keeps its recipient (the owner) and which lead it was about.
  rows.notification_outbox = await count(
    `UPDATE notification_outbox SET recipient = CASE WHEN lower(recipient) = $2 THEN 'erased' ELSE recipient END,
       payload = CASE WHEN payload ? 'leadId' THEN jsonb_build_object('leadId', payload->'leadId') ELSE '{}'::jsonb END, last_error = NULL,
       undeliverable_reason = NULL
     WHERE ${MESSAGES}`,
    [ids, email],
  );
  // An Idempotency-Key keeps the first answer to replay it, and an intake's answer holds the person's data.
  rows.idempotency_keys = await count(
    `DELETE FROM idempotency_keys k WHERE EXISTS (
       SELECT 1 FROM unnest($1::text[]) AS l(id) WHERE k.response_body LIKE '%' || l.id || '%' OR k.response_location LIKE '%' || l.id || '%')`,
    [ids],
  );
  // An export of the address still waiting to be fetched is discarded; the address leaves every request.
  rows.gdpr_exports = await count(
    `UPDATE gdpr_exports x SET content = NULL, discarded_at = COALESCE(x.discarded_at, now())
     FROM gdpr_requests r WHERE r.request_id = x.request_id AND r.subject_email = $1 AND x.content IS NOT NULL`,
    [email],
  );
  // The person's own requests by Idempotency-Key: their kept answers point at the requests of the address.
  rows.idempotency_keys += await count(
    `DELETE FROM idempotency_keys k USING gdpr_requests r WHERE r.subject_email = $1 AND k.response_location = '/v1/gdpr-requests/' || r.request_id`,
    [email],
  );
  rows.gdpr_requests = await count('UPDATE gdpr_requests SET subject_email = NULL WHERE subject_email = $1', [email]);
  // Imported rows of the person as a lead (created, duplicate or rejected); a customer's rows are the customer's erasure's.
  rows.import_rows = await count(
    `UPDATE import_rows SET data = '{}'::jsonb, email_normalized = NULL, errors = NULL, erased_at = now()
     WHERE ${IMPORTED_ROWS} AND erased_at IS NULL`,
    [ids, email],
  );
  rows.leads = await count(
    `UPDATE leads SET name = 'Erased lead', email = 'erased-' || id || '@erased.invalid', email_normalized = 'erased-' || id || '@erased.invalid',
       phone = NULL, company = NULL, interest = NULL, score_reasons = '[]'::jsonb, qualification_need = NULL, qualification_timeline = NULL,
       lost_reason = CASE WHEN lost_reason = $2 THEN lost_reason END, updated_at = now()
     WHERE id = ANY($1::uuid[])`,
    [ids, erasedReason],
  );
  return rows;
}
