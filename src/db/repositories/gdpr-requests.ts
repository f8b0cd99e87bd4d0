/**
 * GDPR requests (`gdpr_requests`), their timeline (`request_events`) and the one retrieval of an
 * export (`gdpr_exports`). The API opens the row when it starts the workflow, the workflow's
 * activities keep it in step; every status happens once per run, so an entry is keyed by run and
 * status and the API and the workflow may both write "retrieved" without doubling it.
 */
import type { Pool, PoolClient } from '../pool.js';
import { inTransaction } from '../pool.js';
import type { GdprKind, GdprState, GdprStatus } from '../../domain/gdpr.js';
import { appendRequestEvents, readRequestTimeline, type RequestEvent } from './request-events.js';

export const CLOSED_GDPR_STATUSES: readonly GdprStatus[] = ['retrieved', 'discarded', 'erased', 'cancelled', 'failed', 'expired'];

export interface GdprRecord extends GdprState {
  workflowId: string;
  runId: string;
  /** A lead-only person's request: the address it is about, kept on the row only while it is open. */
  subjectEmail?: string;
}

export type GdprView = GdprState & {
  workflowId: string;
  requestedAt: string;
  closedAt: string | null;
  verificationLog: RequestEvent[];
  export?: { bytes: number; expiresAt: string; retrievedAt: string | null; retrievedBy: string | null; discardedAt: string | null };
};

const entriesOf = (record: GdprRecord) => record.transitions.map((t) => ({ ...t, key: `${record.runId}:${t.status}` }));

/**
 * Opens the request's row for a run. A later run of the same request id (a new erasure of the
 * customer after the last one ended: Temporal runs one at a time) reopens it; the earlier run's
 * timeline stays.
 */
export async function openGdprRequest(db: Pool, record: GdprRecord): Promise<void> {
  await inTransaction(db, async (tx) => {
    await tx.query(
      `INSERT INTO gdpr_requests (request_id, customer_id, kind, status, requested_by, workflow_id, run_id, verification, requested_at, subject_email)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (request_id) DO UPDATE SET
         status = EXCLUDED.status, requested_by = EXCLUDED.requested_by, run_id = EXCLUDED.run_id, verification = EXCLUDED.verification,
         requested_at = EXCLUDED.requested_at, due_at = NULL, export_bytes = NULL, erased_rows = NULL, closed_at = NULL, updated_at = now()
       WHERE gdpr_requests.run_id IS DISTINCT FROM EXCLUDED.run_id`,
      [
        record.requestId,
        record.customerId,
        record.kind,
        record.status,
        record.requestedBy,
        record.workflowId,
        record.runId,
        record.verification ? JSON.stringify(record.verification) : null,
        record.transitions[0]?.at ?? new Date().toISOString(),
        record.subjectEmail ?? null,
      ],
    );
    await appendRequestEvents(
      tx,
      { requestId: record.requestId, customerId: record.customerId ?? null, kind: record.kind, workflowId: record.workflowId },
      entriesOf(record).slice(0, 1),
    );
  });
}

/**
 * Brings the row and its timeline up to the workflow's state. A request that was running before
 * requests had a record gets its row at its next step; a later run's row is never touched.
 */
export async function recordGdprRequest(db: Pool, record: GdprRecord): Promise<void> {
  await inTransaction(db, async (tx) => {
    const closed = CLOSED_GDPR_STATUSES.includes(record.status);
    const { rowCount } = await tx.query(
      `INSERT INTO gdpr_requests (request_id, customer_id, kind, status, requested_by, workflow_id, run_id, verification, due_at, export_bytes, erased_rows, requested_at, closed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $13 THEN now() END)
       ON CONFLICT (request_id) DO UPDATE SET
         status = EXCLUDED.status, verification = COALESCE(EXCLUDED.verification, gdpr_requests.verification), due_at = COALESCE(EXCLUDED.due_at, gdpr_requests.due_at),
         export_bytes = COALESCE(EXCLUDED.export_bytes, gdpr_requests.export_bytes), erased_rows = COALESCE(EXCLUDED.erased_rows, gdpr_requests.erased_rows), updated_at = now(),
         closed_at = CASE WHEN $13 THEN COALESCE(gdpr_requests.closed_at, now()) ELSE NULL END,
         subject_email = CASE WHEN $13 THEN NULL ELSE gdpr_requests.subject_email END
       WHERE gdpr_requests.run_id = EXCLUDED.run_id`,
      [
        record.requestId,
        record.customerId ?? null,
        record.kind,
        record.status,
        record.requestedBy,
        record.workflowId,
        record.runId,
        record.verification ? JSON.stringify(record.verification) : null,
        record.dueAt ?? null,
        record.exportBytes ?? null,
        record.erasedRows ? JSON.stringify(record.erasedRows) : null,
        record.transitions[0]?.at ?? new Date().toISOString(),
        closed,
      ],
    );
    if (!rowCount) return;
    await appendRequestEvents(
      tx,
      { requestId: record.requestId, customerId: record.customerId ?? null, kind: record.kind, workflowId: record.workflowId },
      entriesOf(record),
    );
  });
}

export type TakenExport = { outcome: 'taken'; content: Record<string, unknown> } | { outcome: 'retrieved' | 'discarded' | 'not-ready' };

/**
 * Takes a ready export and removes it in one transaction, with the request's "retrieved" entry:
 * two concurrent fetches cannot both get it, and the record says who fetched it even if the
 * workflow hears of it only later.
 */
export async function takeExport(db: Pool, requestId: string, actor: string): Promise<TakenExport> {
  return inTransaction(db, async (tx) => {
    const { rows } = await tx.query<{ content: Record<string, unknown>; customer_id: string | null }>(
      `WITH taken AS (SELECT request_id, content FROM gdpr_exports WHERE request_id = $1 AND content IS NOT NULL FOR UPDATE)
       UPDATE gdpr_exports g SET content = NULL, retrieved_at = now(), retrieved_by = $2
       FROM taken WHERE g.request_id = taken.request_id
       RETURNING taken.content, g.customer_id`,
      [requestId, actor],
    );
    if (!rows[0]) {
      const known = await tx.query<{ retrieved_at: Date | null }>('SELECT retrieved_at FROM gdpr_exports WHERE request_id = $1', [requestId]);
      if (!known.rows[0]) return { outcome: 'not-ready' };
      return { outcome: known.rows[0].retrieved_at ? 'retrieved' : 'discarded' };
    }
    const request = await tx.query<{ run_id: string | null; workflow_id: string }>(
      "UPDATE gdpr_requests SET status = 'retrieved', closed_at = COALESCE(closed_at, now()), subject_email = NULL, updated_at = now() WHERE request_id = $1 AND status = 'ready' RETURNING run_id, workflow_id",
      [requestId],
    );
    const r = request.rows[0];
    if (r) {
      await appendRequestEvents(tx, { requestId, customerId: rows[0].customer_id, kind: 'export', workflowId: r.workflow_id }, [
        { status: 'retrieved', at: new Date().toISOString(), actor, key: `${r.run_id}:retrieved` },
      ]);
    }
    return { outcome: 'taken', content: rows[0].content };
  });
}

interface GdprRow {
  request_id: string;
  customer_id: string | null;
  kind: GdprKind;
  status: GdprStatus;
  requested_by: string;
  workflow_id: string;
  verification: GdprState['verification'] | null;
  due_at: Date | null;
  export_bytes: number | null;
  erased_rows: Record<string, number> | null;
  requested_at: Date;
  closed_at: Date | null;
  bytes: number | null;
  expires_at: Date | null;
  retrieved_at: Date | null;
  retrieved_by: string | null;
  discarded_at: Date | null;
}

export async function readGdprRequest(db: Pool | PoolClient, requestId: string): Promise<GdprView | undefined> {
  const { rows } = await db.query<GdprRow>(
    `SELECT r.*, x.bytes, x.expires_at, x.retrieved_at, x.retrieved_by, x.discarded_at
     FROM gdpr_requests r LEFT JOIN gdpr_exports x ON x.request_id = r.request_id WHERE r.request_id = $1`,
    [requestId],
  );
  const r = rows[0];
  if (!r) return undefined;
  const { transitions, verificationLog } = await readRequestTimeline(db, requestId);
  return {
    requestId: r.request_id,
    kind: r.kind,
    ...(r.customer_id ? { customerId: r.customer_id } : {}),
    subject: r.customer_id ? 'customer' : 'lead',
    status: r.status,
    requestedBy: r.requested_by,
    ...(r.verification ? { verification: r.verification } : {}),
    ...(r.due_at ? { dueAt: r.due_at.toISOString() } : {}),
    ...(r.export_bytes !== null ? { exportBytes: r.export_bytes } : {}),
    ...(r.erased_rows ? { erasedRows: r.erased_rows } : {}),
    transitions,
    verificationLog,
    workflowId: r.workflow_id,
    requestedAt: r.requested_at.toISOString(),
    closedAt: r.closed_at?.toISOString() ?? null,
    ...(r.bytes !== null && r.expires_at
      ? {
          export: {
            bytes: r.bytes,
            expiresAt: r.expires_at.toISOString(),
            retrievedAt: r.retrieved_at?.toISOString() ?? null,
            retrievedBy: r.retrieved_by,
            discardedAt: r.discarded_at?.toISOString() ?? null,
          },
        }
      : {}),
  };
}

/** The open erasure of a customer, if any: one at a time. */
export async function openErasureOf(db: Pool | PoolClient, customerId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ request_id: string }>(
    "SELECT request_id FROM gdpr_requests WHERE customer_id = $1 AND kind = 'erasure' AND closed_at IS NULL",
    [customerId],
  );
  return rows[0]?.request_id;
}

/**
 * Claims the one open request of its kind for a lead-only person's address before its workflow
 * starts; answers the id of the open request when there is one (then nothing was claimed). The
 * unique index on open (kind, subject_email) makes this hold under concurrent requests too.
 */
export async function claimLeadRequest(
  db: Pool,
  claim: { requestId: string; kind: GdprKind; email: string; requestedBy: string; workflowId: string },
): Promise<{ claimed: true } | { claimed: false; openRequestId: string }> {
  for (;;) {
    const { rowCount } = await db.query(
      `INSERT INTO gdpr_requests (request_id, kind, status, requested_by, workflow_id, requested_at, subject_email)
       VALUES ($1, $2, 'awaiting-verification', $3, $4, now(), $5) ON CONFLICT DO NOTHING`,
      [claim.requestId, claim.kind, claim.requestedBy, claim.workflowId, claim.email],
    );
    if (rowCount) return { claimed: true };
    const open = await db.query<{ request_id: string }>('SELECT request_id FROM gdpr_requests WHERE kind = $1 AND subject_email = $2', [
      claim.kind,
      claim.email,
    ]);
    // Closed in between: claim again.
    if (open.rows[0]) return { claimed: false, openRequestId: open.rows[0].request_id };
  }
}

/** Gives up a claim whose workflow could not be started. */
export async function releaseLeadRequest(db: Pool, requestId: string): Promise<void> {
  await db.query('DELETE FROM gdpr_requests WHERE request_id = $1 AND run_id IS NULL', [requestId]);
}
