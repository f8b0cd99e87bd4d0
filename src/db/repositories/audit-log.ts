/**
 * The audit log (`audit_log`): who changed which field of a customer or a lead, from which value
 * to which, in which process and workflow, when. Every writer goes through `writeAudit`, and every
 * entry's idempotency key is derived one way: `<step>:<field>`, where the step names the write
 * that made the entry (the workflow id and a step name, a change id, an HTTP request id). A
 * retried step writes each entry once. The keys written before this module existed had that form
 * already (`<workflowId>:audit:<field>`, `<changeId>:audit:<field>`, `<workflowId>:correction:<n>:<field>`,
 * `<workflowId>:erasure`), so a step retried across the change finds its own entries.
 */
import type { Pool, PoolClient } from '../pool.js';
import type { CrmProcess } from '../../domain/processes.js';

export interface AuditWrite {
  /** Names the write; with the field it keys each entry. */
  step: string;
  customerId?: string | null;
  leadId?: string | null;
  actor: string;
  approver?: string | null;
  process: CrmProcess;
  workflowId?: string | null;
  changeId?: string | null;
}

export interface AuditField {
  field: string;
  oldValue: unknown;
  newValue: unknown;
}

export function auditKey(step: string, field: string): string {
  return `${step}:${field}`;
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** Writes the entries of one step not written before; returns how many were new. */
export async function writeAudit(db: Pool | PoolClient, write: AuditWrite, fields: AuditField[]): Promise<number> {
  let written = 0;
  for (const f of fields) {
    const { rowCount } = await db.query(
      `INSERT INTO audit_log (customer_id, lead_id, field, old_value, new_value, actor, approver, process, workflow_id, change_id, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (idempotency_key) DO NOTHING`,
      [
        write.customerId ?? null,
        write.leadId ?? null,
        f.field,
        json(f.oldValue),
        json(f.newValue),
        write.actor,
        write.approver ?? null,
        write.process,
        write.workflowId ?? null,
        write.changeId ?? null,
        auditKey(write.step, f.field),
      ],
    );
    written += rowCount ?? 0;
  }
  return written;
}

/** `writeAudit` for many steps in one statement (a page of an import): the same keys, each entry once. */
export async function writeAuditBatch(db: Pool | PoolClient, steps: Array<{ write: AuditWrite; fields: AuditField[] }>): Promise<number> {
  const entries = steps.flatMap(({ write, fields }) => fields.map((f) => ({ write, f })));
  if (entries.length === 0) return 0;
  const column = <T>(pick: (e: (typeof entries)[number]) => T) => entries.map(pick);
  const { rowCount } = await db.query(
    `INSERT INTO audit_log (customer_id, lead_id, field, old_value, new_value, actor, approver, process, workflow_id, change_id, idempotency_key)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[], $7::text[], $8::text[], $9::text[], $10::uuid[], $11::text[])
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [
      column((e) => e.write.customerId ?? null),
      column((e) => e.write.leadId ?? null),
      column((e) => e.f.field),
      column((e) => json(e.f.oldValue)),
      column((e) => json(e.f.newValue)),
      column((e) => e.write.actor),
      column((e) => e.write.approver ?? null),
      column((e) => e.write.process),
      column((e) => e.write.workflowId ?? null),
      column((e) => e.write.changeId ?? null),
      column((e) => auditKey(e.write.step, e.f.field)),
    ],
  );
  return rowCount ?? 0;
}

export interface LeadCorrectionEntry {
  field: string;
  from: unknown;
  to: unknown;
  actor: string;
  at: string;
  workflowId: string | null;
}

/** The corrections of a lead, oldest first. */
export async function readLeadCorrections(db: Pool | PoolClient, leadId: string): Promise<LeadCorrectionEntry[]> {
  const { rows } = await db.query<{
    field: string;
    old_value: unknown;
    new_value: unknown;
    actor: string;
    occurred_at: Date;
    workflow_id: string | null;
  }>('SELECT field, old_value, new_value, actor, occurred_at, workflow_id FROM audit_log WHERE lead_id = $1 ORDER BY occurred_at, id', [leadId]);
  return rows.map((r) => ({
    field: r.field,
    from: r.old_value,
    to: r.new_value,
    actor: r.actor,
    at: r.occurred_at.toISOString(),
    workflowId: r.workflow_id,
  }));
}

export interface CustomerAuditEntry {
  id: number;
  field: string;
  oldValue: unknown;
  newValue: unknown;
  actor: string;
  approver: string | null;
  process: string;
  workflowId: string | null;
  changeId: string | null;
  at: string;
}

/** A customer's audit trail, newest first; `before` is the id of the last entry of the previous page. */
export async function readCustomerAudit(db: Pool | PoolClient, customerId: string, limit: number, before?: string): Promise<CustomerAuditEntry[]> {
  const { rows } = await db.query<{
    id: string;
    field: string;
    old_value: unknown;
    new_value: unknown;
    actor: string;
    approver: string | null;
    process: string;
    workflow_id: string | null;
    change_id: string | null;
    occurred_at: Date;
  }>(
    `SELECT id, field, old_value, new_value, actor, approver, process, workflow_id, change_id, occurred_at
     FROM audit_log WHERE customer_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
     ORDER BY id DESC LIMIT $3`,
    [customerId, before ?? null, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    field: r.field,
    oldValue: r.old_value,
    newValue: r.new_value,
    actor: r.actor,
    approver: r.approver,
    process: r.process,
    workflowId: r.workflow_id,
    changeId: r.change_id,
    at: r.occurred_at.toISOString(),
  }));
}
