/**
 * Change requests (`change_requests`) and their timeline (`request_events`): written by the change
 * desk's activities, read by the API. The row holds what the desk knew of a change (masked preview,
 * verification, approval, outcome), so a change reads the same after its workflow is gone; the full
 * new bank account is kept apart, only while the change is open, and read only by the audited reveal.
 */
import type { Pool, PoolClient } from '../pool.js';
import { recordEvent } from './webhook-events.js';
import { customerExists } from './customers.js';
import type { ChangeRecord, ChangeState, ChangeStatus, MasterDataField } from '../../domain/master-data.js';
import { appendRequestEvents, readRequestTimeline, transitionEntries, type RequestEvent } from './request-events.js';

/** The state of a change as the record holds it, with codes sent and wrong codes entered. */
export type ChangeView = ChangeState & { workflowId: string; closedAt: string | null; verificationLog: RequestEvent[] };

/** Records a change request when it is accepted; a retry finds its row and its entries. */
export async function openChange(db: Pool | PoolClient, record: ChangeRecord & Partial<ChangeState>): Promise<void> {
  await db.query(
    `INSERT INTO change_requests (id, customer_id, fields, status, requested_by, reason, workflow_id, preview, approval_required, new_bank_account)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO NOTHING`,
    [
      record.changeId,
      record.customerId,
      record.fields,
      record.status,
      record.requestedBy,
      record.reason ?? null,
      record.workflowId,
      record.preview ? JSON.stringify(record.preview) : null,
      record.approval?.required ?? false,
      record.newBankAccount ?? null,
    ],
  );
  await appendRequestEvents(
    db,
    { requestId: record.changeId, customerId: record.customerId, kind: 'change', workflowId: record.workflowId },
    transitionEntries(record.transitions),
  );
}

/** Brings the row and its timeline up to the workflow's state, in one transaction. */
export async function recordChange(db: PoolClient, record: ChangeRecord & Partial<ChangeState> & { closed: boolean }): Promise<void> {
  const a = record.approval;
  await db.query(
    `UPDATE change_requests SET status = $2, approved_by = COALESCE($3, approved_by), updated_at = now(),
            closed_at = CASE WHEN $4 THEN COALESCE(closed_at, now()) ELSE closed_at END,
            new_bank_account = CASE WHEN $4 THEN NULL ELSE new_bank_account END,
            verification = COALESCE($5, verification), approval_required = approval_required OR $6, approval_due_at = COALESCE($7, approval_due_at),
            escalated = escalated OR $8, decision = COALESCE($9, decision), decided_by = COALESCE($10, decided_by),
            decision_comment = COALESCE($11, decision_comment), applied_version = COALESCE($12, applied_version), outcome_detail = COALESCE($13, outcome_detail)
     WHERE id = $1`,
    [
      record.changeId,
      record.status,
      record.approvedBy ?? null,
      record.closed,
      record.verification ? JSON.stringify(record.verification) : null,
      a?.required ?? false,
      a?.dueAt ?? null,
      a?.escalated ?? false,
      a?.decision ?? null,
      a?.approver ?? null,
      a?.comment ?? null,
      record.outcome?.version ?? null,
      record.outcome?.detail ?? null,
    ],
  );
  await appendRequestEvents(
    db,
    { requestId: record.changeId, customerId: record.customerId, kind: 'change', workflowId: record.workflowId },
    transitionEntries(record.transitions),
  );
  if (record.closed && record.status === 'rejected') {
    await recordEvent(db, {
      type: 'change.rejected',
      customerId: record.customerId,
      data: { changeId: record.changeId, customerId: record.customerId, decidedBy: a?.approver ?? null },
      idempotencyKey: `change.rejected:${record.changeId}`,
    });
  }
}

interface ChangeRow {
  id: string;
  customer_id: string;
  fields: MasterDataField[];
  status: ChangeStatus;
  requested_by: string;
  approved_by: string | null;
  reason: string | null;
  workflow_id: string;
  preview: Record<string, unknown> | null;
  verification: ChangeState['verification'] | null;
  approval_required: boolean;
  approval_due_at: Date | null;
  escalated: boolean;
  decision: 'approve' | 'reject' | null;
  decided_by: string | null;
  decision_comment: string | null;
  applied_version: number | null;
  outcome_detail: string | null;
  created_at: Date;
  closed_at: Date | null;
}

async function viewOf(db: Pool | PoolClient, r: ChangeRow): Promise<ChangeView> {
  const { transitions, verificationLog } = await readRequestTimeline(db, r.id);
  const decider = r.decided_by ?? r.approved_by;
  const decision = r.decision ?? (r.approved_by ? 'approve' : null);
  return {
    changeId: r.id,
    customerId: r.customer_id,
    status: r.status,
    fields: r.fields,
    requestedBy: r.requested_by,
    ...(r.reason !== null ? { reason: r.reason } : {}),
    preview: r.preview ?? {},
    ...(r.verification ? { verification: r.verification } : {}),
    ...(r.approval_required || decision
      ? {
          approval: {
            required: true as const,
            escalated: r.escalated,
            ...(r.approval_due_at ? { dueAt: r.approval_due_at.toISOString() } : {}),
            ...(decision ? { decision } : {}),
            ...(decider ? { approver: decider } : {}),
            ...(r.decision_comment !== null ? { comment: r.decision_comment } : {}),
          },
        }
      : {}),
    ...(r.applied_version !== null || r.outcome_detail !== null
      ? {
          outcome: {
            ...(r.applied_version !== null ? { version: r.applied_version } : {}),
            ...(r.outcome_detail !== null ? { detail: r.outcome_detail } : {}),
          },
        }
      : {}),
    transitions,
    verificationLog,
    workflowId: r.workflow_id,
    closedAt: r.closed_at?.toISOString() ?? null,
  };
}

/**
 * The full new bank account of an open change, for the approver's audited reveal; undefined for
 * an unknown change, null when the change sets no bank account or has closed (the value is gone).
 */
export async function readNewBankAccount(db: Pool | PoolClient, changeId: string): Promise<string | null | undefined> {
  const { rows } = await db.query<{ new_bank_account: string | null }>('SELECT new_bank_account FROM change_requests WHERE id = $1', [changeId]);
  return rows[0] ? rows[0].new_bank_account : undefined;
}

export async function readChange(db: Pool | PoolClient, changeId: string): Promise<ChangeView | undefined> {
  const { rows } = await db.query<ChangeRow>('SELECT * FROM change_requests WHERE id = $1', [changeId]);
  return rows[0] ? viewOf(db, rows[0]) : undefined;
}

export interface ChangeSummary {
  changeId: string;
  status: ChangeStatus;
  fields: MasterDataField[];
  requestedBy: string;
  decidedBy: string | null;
  createdAt: string;
  closedAt: string | null;
}

/**
 * A customer's change requests, newest first; `after` is the id of the last change of the previous
 * page. Undefined when there is no such customer.
 */
export async function listCustomerChanges(db: Pool | PoolClient, customerId: string, limit: number, after?: string): Promise<ChangeSummary[] | undefined> {
  if (!(await customerExists(db, customerId))) return undefined;
  const { rows } = await db.query<ChangeRow>(
    `SELECT * FROM change_requests WHERE customer_id = $1
       AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM change_requests WHERE id = $2::uuid AND customer_id = $1))
     ORDER BY created_at DESC, id DESC LIMIT $3`,
    [customerId, after ?? null, limit],
  );
  return rows.map((r) => ({
    changeId: r.id,
    status: r.status,
    fields: r.fields,
    requestedBy: r.requested_by,
    decidedBy: r.decided_by ?? r.approved_by,
    createdAt: r.created_at.toISOString(),
    closedAt: r.closed_at?.toISOString() ?? null,
  }));
}
