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
