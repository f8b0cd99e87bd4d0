/**
 * Onboardings (`customer_onboardings`) and their status timeline (`onboarding_transitions`).
 * The opt-in code is a one-time code (one-time-codes.ts): the subject `optInSubject(customerId)`. The onboarding workflow writes what it knows after each
 * change (`recordOnboarding`), numbered by `record_seq` so that a late retry of an older write
 * changes nothing; timeline entries are keyed by their position, so a retry writes each once.
 */
import type { Pool, PoolClient } from '../pool.js';
import { inTransaction } from '../pool.js';
import type { OnboardingInput, OnboardingState, OnboardingStatus } from '../../domain/onboarding.js';

export async function accountManagerOf(db: Pool | PoolClient, customerId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ account_manager: string }>('SELECT account_manager FROM customer_onboardings WHERE customer_id = $1', [customerId]);
  return rows[0]?.account_manager;
}

export async function insertOnboarding(
  db: PoolClient,
  o: { customerId: string; workflowId: string; accountManager: string; origin: OnboardingInput['origin']; leadId?: string },
): Promise<void> {
  await db.query(
    `INSERT INTO customer_onboardings (customer_id, workflow_id, account_manager, origin, lead_id, status, opt_in_sent_at)
     VALUES ($1, $2, $3, $4, $5, 'starting', now())`,
    [o.customerId, o.workflowId, o.accountManager, o.origin, o.leadId ?? null],
  );
}

/** The one-time-code subject of a customer's opt-in. */
export function optInSubject(customerId: string): string {
  return `opt-in:${customerId}`;
}

/**
 * The code of an onboarding that was running before opt-in codes became one-time codes: its hash
 * as that release kept it, and the wrong codes its workflow had counted. None for newer ones.
 */
export async function legacyOptIn(db: Pool | PoolClient, customerId: string): Promise<{ codeHash: string; attempts: number } | undefined> {
  const { rows } = await db.query<{ opt_in_code_hash: string | null; opt_in_attempts: number }>(
    'SELECT opt_in_code_hash, opt_in_attempts FROM customer_onboardings WHERE customer_id = $1',
    [customerId],
  );
  return rows[0]?.opt_in_code_hash ? { codeHash: rows[0].opt_in_code_hash, attempts: rows[0].opt_in_attempts } : undefined;
}

/** A new code replaces an old-scheme one for good. */
export async function forgetLegacyOptIn(db: Pool | PoolClient, customerId: string): Promise<void> {
  await db.query('UPDATE customer_onboardings SET opt_in_code_hash = NULL WHERE customer_id = $1 AND opt_in_code_hash IS NOT NULL', [customerId]);
}

/** The right code was entered: the address is confirmed (the first time counts). */
export async function confirmOptIn(db: Pool | PoolClient, customerId: string): Promise<void> {
  await db.query('UPDATE customer_onboardings SET opt_in_confirmed_at = COALESCE(opt_in_confirmed_at, now()), opt_in_code_hash = NULL WHERE customer_id = $1', [
    customerId,
  ]);
}

export async function finishOnboarding(db: Pool | PoolClient, customerId: string, outcome: 'onboarded' | 'stalled', reasons: string[]): Promise<void> {
  await db.query(`UPDATE customer_onboardings SET status = $2, reasons = $3, finished_at = COALESCE(finished_at, now()) WHERE customer_id = $1`, [
    customerId,
    outcome,
    JSON.stringify(reasons),
  ]);
}

/** What the onboarding knows at one moment, and the status steps since its last write. */
export interface OnboardingRecordWrite {
  customerId: string;
  workflowId: string;
  runId: string;
  seq: number;
  status: OnboardingStatus;
  optIn: OnboardingState['optIn'];
  firstContact: OnboardingState['firstContact'];
  checkInAt?: string;
  reasons: string[];
  withheld: OnboardingState['withheld'];
  /** When onboarding ended: the time of its last status step. */
  finishedAt?: string;
  transitions: Array<OnboardingState['transitions'][number] & { seq: number }>;
}

export async function recordOnboarding(pool: Pool, w: OnboardingRecordWrite): Promise<void> {
  await inTransaction(pool, async (db) => {
    await db.query(
      `UPDATE customer_onboardings SET
         status = $3,
         opt_in_status = $4, opt_in_attempts = $5, opt_in_resends = $6, opt_in_sent_at = COALESCE($7, opt_in_sent_at),
         opt_in_confirmed_at = COALESCE(opt_in_confirmed_at, $8), first_contact_due_at = $9, first_contact_done_at = $10,
         first_contact_reminder_at = $11, check_in_at = $12, reasons = $13, withheld = $14,
         finished_at = COALESCE(finished_at, $15), record_seq = $2
       WHERE customer_id = $1 AND record_seq < $2`,
      [
        w.customerId,
        w.seq,
        w.status,
        w.optIn.status,
        w.optIn.attempts,
        w.optIn.resends ?? 0,
        w.optIn.sentAt ?? null,
        w.optIn.confirmedAt ?? null,
        w.firstContact.dueAt ?? null,
        w.firstContact.doneAt ?? null,
        w.firstContact.reminderSentAt ?? null,
        w.checkInAt ?? null,
        JSON.stringify(w.reasons),
        JSON.stringify(w.withheld),
        w.finishedAt ?? null,
      ],
    );
    if (w.transitions.length > 0) {
      await db.query(
        `INSERT INTO onboarding_transitions (customer_id, seq, status, at, actor, reason, workflow_id, run_id)
         SELECT $1, e.seq, e.status, e.at, e.actor, e.reason, $2, $3
         FROM jsonb_to_recordset($4::jsonb) AS e(seq integer, status text, at timestamptz, actor text, reason text)
         ON CONFLICT DO NOTHING`,
        [w.customerId, w.workflowId, w.runId, JSON.stringify(w.transitions)],
      );
    }
  });
}

interface OnboardingRow {
  customer_id: string;
  workflow_id: string;
  account_manager: string;
  status: OnboardingStatus;
  reasons: string[];
  origin: OnboardingInput['origin'];
  lead_id: string | null;
  opt_in_status: OnboardingState['optIn']['status'];
  opt_in_attempts: number;
  opt_in_resends: number;
  opt_in_sent_at: Date | null;
  opt_in_confirmed_at: Date | null;
  first_contact_due_at: Date | null;
  first_contact_done_at: Date | null;
  first_contact_reminder_at: Date | null;
  check_in_at: Date | null;
  withheld: OnboardingState['withheld'];
  started_at: Date;
  finished_at: Date | null;
}

export type OnboardingRecord = OnboardingState & { workflowId: string; startedAt: string; finishedAt?: string };

const at = <K extends string>(key: K, d: Date | null) => (d ? ({ [key]: d.toISOString() } as Record<K, string>) : {});

export async function readOnboarding(db: Pool | PoolClient, customerId: string): Promise<OnboardingRecord | undefined> {
  const { rows } = await db.query<OnboardingRow>('SELECT * FROM customer_onboardings WHERE customer_id = $1', [customerId]);
  const r = rows[0];
  if (!r) return undefined;
  const timeline = await db.query<{ status: OnboardingStatus; at: Date; actor: string; reason: string | null }>(
    'SELECT status, at, actor, reason FROM onboarding_transitions WHERE customer_id = $1 ORDER BY seq',
    [customerId],
  );
  return {
    customerId: r.customer_id,
    workflowId: r.workflow_id,
    origin: r.origin,
    ...(r.lead_id ? { leadId: r.lead_id } : {}),
    status: r.status,
    accountManager: r.account_manager,
    optIn: {
      status: r.opt_in_status,
      attempts: r.opt_in_attempts,
      resends: r.opt_in_resends,
      ...at('sentAt', r.opt_in_sent_at),
      ...at('confirmedAt', r.opt_in_confirmed_at),
    },
    firstContact: {
      ...at('dueAt', r.first_contact_due_at),
      ...at('doneAt', r.first_contact_done_at),
      ...at('reminderSentAt', r.first_contact_reminder_at),
    },
    ...at('checkInAt', r.check_in_at),
    reasons: r.reasons,
    withheld: r.withheld,
    transitions: timeline.rows.map((t) => ({
      status: t.status,
      at: t.at.toISOString(),
      actor: t.actor,
      ...(t.reason !== null ? { reason: t.reason } : {}),
    })),
    startedAt: r.started_at.toISOString(),
    ...at('finishedAt', r.finished_at),
  };
}
