/**
 * Registrations (`registrations`): how each `registerCustomer` workflow ended, written in the
 * transaction that creates the customer (or finds the e-mail taken), keyed by the workflow id.
 */
import type { Pool, PoolClient } from '../pool.js';
import type { RegistrationState } from '../../domain/customers.js';

export interface RegistrationRecord {
  workflowId: string;
  runId?: string;
  customerId: string;
  status: 'registered' | 'duplicate';
  requestedBy: string;
  receivedAt: string;
  reason?: string;
}

export async function recordRegistration(db: Pool | PoolClient, r: RegistrationRecord): Promise<void> {
  await db.query(
    `INSERT INTO registrations (workflow_id, run_id, customer_id, status, requested_by, received_at, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workflow_id) DO NOTHING`,
    [r.workflowId, r.runId ?? null, r.customerId, r.status, r.requestedBy, r.receivedAt, r.reason ?? null],
  );
}

/** The registration as the workflow's state showed it: received, then registered or duplicate. */
export async function readRegistration(db: Pool | PoolClient, workflowId: string): Promise<RegistrationState | undefined> {
  const { rows } = await db.query<{
    customer_id: string;
    status: 'registered' | 'duplicate';
    requested_by: string;
    received_at: Date;
    decided_at: Date;
    reason: string | null;
  }>('SELECT customer_id, status, requested_by, received_at, decided_at, reason FROM registrations WHERE workflow_id = $1', [workflowId]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    status: r.status,
    customerId: r.customer_id,
    transitions: [
      { status: 'received', at: r.received_at.toISOString(), actor: r.requested_by },
      { status: r.status, at: r.decided_at.toISOString(), actor: 'system', ...(r.reason ? { reason: r.reason } : {}) },
    ],
  };
}
