/**
 * The timeline of change requests and GDPR requests (`request_events`). A workflow's transitions
 * are keyed by their position (`transition:<n>`) or, where a status happens once per run, by
 * `<runId>:<status>`; code messages and code checks by their issue and check number. Each entry
 * is written with ON CONFLICT DO NOTHING, so a retried activity writes it once.
 */
import type { Pool, PoolClient } from '../pool.js';

export type RequestKind = 'change' | 'export' | 'erasure';

export interface RequestEvent {
  status: string;
  at: string;
  actor: string;
  reason?: string;
}

export interface RequestEventEntry extends RequestEvent {
  key: string;
}

export interface RequestSubject {
  requestId: string;
  /** Null for a lead-only person's GDPR request. */
  customerId: string | null;
  kind: RequestKind;
  workflowId?: string;
}

/** Keys of entries that are verification messages and checks rather than status steps. */
export const CODE_SENT = 'code-sent';
export const CODE_WRONG = 'code-wrong';
const VERIFICATION_STATUSES = [CODE_SENT, CODE_WRONG];

export async function appendRequestEvents(db: Pool | PoolClient, subject: RequestSubject, entries: RequestEventEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO request_events (request_id, customer_id, kind, status, at, actor, reason, workflow_id, entry_key)
     SELECT $1, $2, $3, e.status, e.at, e.actor, e.reason, $4, e.key
     FROM jsonb_to_recordset($5::jsonb) AS e(status text, at timestamptz, actor text, reason text, key text)
     ON CONFLICT (request_id, entry_key) DO NOTHING`,
    [subject.requestId, subject.customerId, subject.kind, subject.workflowId ?? null, JSON.stringify(entries)],
  );
  return rowCount ?? 0;
}

/** A workflow's transitions keyed by their position: the list only grows, so position n is always the same entry. */
export function transitionEntries(transitions: RequestEvent[]): RequestEventEntry[] {
  return transitions.map((t, n) => ({ ...t, key: `transition:${n}` }));
}

export interface RequestTimeline {
  /** The status steps, as the workflow moved them. */
  transitions: RequestEvent[];
  /** Codes sent and wrong codes entered, oldest first. */
  verificationLog: RequestEvent[];
}

export async function readRequestTimeline(db: Pool | PoolClient, requestId: string): Promise<RequestTimeline> {
  const { rows } = await db.query<{ status: string; at: Date; actor: string; reason: string | null }>(
    'SELECT status, at, actor, reason FROM request_events WHERE request_id = $1 ORDER BY at, id',
    [requestId],
  );
  const timeline: RequestTimeline = { transitions: [], verificationLog: [] };
  for (const r of rows) {
    const entry: RequestEvent = {
      status: r.status,
      at: r.at.toISOString(),
      actor: r.actor,
      ...(r.reason !== null ? { reason: r.reason } : {}),
    };
    (VERIFICATION_STATUSES.includes(r.status) ? timeline.verificationLog : timeline.transitions).push(entry);
  }
  return timeline;
}
