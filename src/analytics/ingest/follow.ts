/**
 * Following running processes: funnels and tasks are read while they run, so the open pipeline
 * and task SLAs are known before anything closes. A pass lists the followed processes that run
 * or closed since the watermark (one visibility query), skips every run whose visibility record
 * is unchanged since its last read, and reads only the events after a changed run's cursor (its
 * history read backwards from the newest event). A run's cursor, its search attributes so far and
 * its status changes are written in one transaction, so a repeated pass changes nothing. A funnel
 * continues as new: its runs are joined by workflow id, a new run starting from its predecessor's
 * values. As for closed runs, no payload is decoded: search attributes and event times only.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { StorePool } from '../store.js';
import { FOLLOWED_PROCESSES, PIPELINE } from '../contract.js';
import { decodeSearchAttributes, PERSONAL_ATTRIBUTES, runStatus, timestampToMs } from './facts.js';
import { alive, mapLimited, type IngestOptions } from './ingest.js';

type Event = temporal.api.history.v1.IHistoryEvent;
type ExecutionInfo = temporal.api.workflow.v1.IWorkflowExecutionInfo;
type LongLike = number | { toNumber(): number } | null | undefined;

export interface FollowResult {
  /** Followed runs visibility listed (running, or closed since the watermark). */
  listed: number;
  /** Runs whose new events were read: the others had not changed since their last read. */
  read: number;
  /** Events read in this pass. */
  events: number;
  /** Changed runs left for the next pass (more than `batch`). */
  remaining: number;
}

interface Cursor {
  run_id: string;
  run_status: string;
  last_event_id: string;
  visibility: string | null;
  attributes: Record<string, unknown>;
  status: string | null;
}

interface StatusChange {
  eventId: number;
  from: string | null;
  to: string;
  at: Date;
  context: Record<string, unknown>;
}

const long = (v: LongLike): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());
const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const instant = (v: unknown) => {
  const d = typeof v === 'string' ? new Date(v) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : null;
};

/** What the visibility record says of a run: when it is unchanged, nothing the pass reads changed. */
function visibilityStamp(info: ExecutionInfo): string {
  const fields = info.searchAttributes?.indexedFields ?? {};
  const hash = createHash('sha256');
  hash.update(`${info.status}|${long(info.historyLength)}|${long(info.stateTransitionCount)}|${timestampToMs(info.closeTime) ?? ''}`);
  for (const key of Object.keys(fields).sort()) hash.update(`|${key}=${Buffer.from(fields[key]?.data ?? []).toString('base64')}`);
  return hash.digest('base64url');
}

export function createFollowActivities({ pool, temporal: client }: { pool: StorePool; temporal: Client }) {
  const namespace = client.options.namespace;

  async function listFollowed(since: Date, filter?: string): Promise<ExecutionInfo[]> {
    const processes = FOLLOWED_PROCESSES.map((p) => `'${p}'`).join(', ');
    const clauses = [`CrmProcess IN (${processes})`, `(ExecutionStatus = 'Running' OR CloseTime >= '${since.toISOString()}')`];
    if (filter) clauses.push(`(${filter})`);
    const out: ExecutionInfo[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.listWorkflowExecutions({ namespace, query: clauses.join(' AND '), pageSize: 1000, nextPageToken });
      alive();
      out.push(...(page.executions ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return out;
  }

  /** The events after `after`, oldest first: the whole history for a new run, else read backwards to the cursor. */
  async function eventsAfter(info: ExecutionInfo, after: number): Promise<Event[]> {
    const execution = info.execution;
    const events: Event[] = [];
    let nextPageToken: Uint8Array | undefined;
    if (after === 0) {
      do {
        const page = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution, nextPageToken, maximumPageSize: 1000 });
        alive();
        events.push(...(page.history?.events ?? []));
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (nextPageToken);
      return events;
    }
    do {
      const page = await client.workflowService.getWorkflowExecutionHistoryReverse({ namespace, execution, nextPageToken, maximumPageSize: 100 });
      alive();
      for (const e of page.history?.events ?? []) {
        if (long(e.eventId) <= after) return events.reverse();
        events.push(e);
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return events.reverse();
  }

  /** The values a run starts from: its own so far, else its predecessor's (a continued-as-new funnel). */
  async function startingPoint(info: ExecutionInfo, cursor: Cursor | undefined) {
    if (cursor) return { attributes: cursor.attributes, status: cursor.status, lastEventId: Number(cursor.last_event_id) };
    const { rows } = await pool.query<{ attributes: Record<string, unknown>; status: string | null }>(
      'SELECT attributes, status FROM followed_runs WHERE workflow_id = (SELECT pseudonym FROM pseudonyms WHERE real_id = $1) AND start_time < $2 ORDER BY start_time DESC LIMIT 1',
      [info.execution?.workflowId, new Date(timestampToMs(info.startTime) ?? 0)],
    );
    return { attributes: rows[0]?.attributes ?? {}, status: rows[0]?.status ?? null, lastEventId: 0 };
  }

  async function follow(info: ExecutionInfo, cursor: Cursor | undefined): Promise<number> {
    const start = await startingPoint(info, cursor);
    const events = await eventsAfter(info, start.lastEventId);
    const attributes: Record<string, unknown> = { ...start.attributes };
    let status = start.status;
    let lastEventId = start.lastEventId;
    let changedAt: Date | null = null;
    const changes: StatusChange[] = [];
    for (const e of events) {
      lastEventId = Math.max(lastEventId, long(e.eventId));
      const sets = e.workflowExecutionStartedEventAttributes ?? e.upsertWorkflowSearchAttributesEventAttributes;
      if (!sets) continue;
      const at = new Date(timestampToMs(e.eventTime) ?? 0);
      const upserted = decodeSearchAttributes(sets.searchAttributes?.indexedFields as Record<string, temporal.api.common.v1.IPayload>);
      for (const [key, value] of Object.entries(upserted)) {
        if (PERSONAL_ATTRIBUTES.has(key)) continue;
        if (value === null) delete attributes[key];
        else attributes[key] = value;
      }
      changedAt = at;
      const to = text(upserted[PIPELINE.attributes.stage]);
      if (to && to !== status) {
        changes.push({ eventId: long(e.eventId), from: status, to, at, context: { ...attributes } });
        status = to;
      }
    }
    const closed = runStatus(info.status);
    const a = PIPELINE.attributes;
    // The customer the run is tagged with: kept only in the pseudonym mapping, so their erasure can delete it.
    const tagged = decodeSearchAttributes(info.searchAttributes?.indexedFields as Record<string, temporal.api.common.v1.IPayload>).CrmCustomerId;
    const customerId = typeof tagged === 'string' ? tagged : null;
    const db = await pool.connect();
    try {
      await db.query('BEGIN');
      // One pseudonym for the run's rows (after the customer's erasure a fresh one with no mapping).
      const { rows: named } = await db.query<{ p: string }>('SELECT analytics_pseudonym($1, $2) AS p', [info.execution?.workflowId, customerId]);
      const pseudonym = named[0]!.p;
      await db.query(
        `INSERT INTO followed_runs (run_id, workflow_id, workflow_type, process, run_status, start_time, close_time, last_event_id, visibility, attributes,
                                    status, owner, team, amount, currency, probability, expected_close, changed_at, events_read, reads)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 1)
         ON CONFLICT (run_id) DO UPDATE SET
           run_status = EXCLUDED.run_status, close_time = EXCLUDED.close_time, last_event_id = EXCLUDED.last_event_id, visibility = EXCLUDED.visibility,
           attributes = EXCLUDED.attributes, status = EXCLUDED.status, owner = EXCLUDED.owner, team = EXCLUDED.team, amount = EXCLUDED.amount,
           currency = EXCLUDED.currency, probability = EXCLUDED.probability, expected_close = EXCLUDED.expected_close,
           changed_at = COALESCE(EXCLUDED.changed_at, followed_runs.changed_at),
           events_read = followed_runs.events_read + EXCLUDED.events_read, reads = followed_runs.reads + 1
         WHERE followed_runs.last_event_id <= EXCLUDED.last_event_id`,
        [
          info.execution?.runId,
          pseudonym,
          info.type?.name ?? 'unknown',
          text(attributes[PIPELINE.attributes.process]) ?? 'unknown',
          closed ?? 'running',
          new Date(timestampToMs(info.startTime) ?? 0),
          closed ? new Date(timestampToMs(info.closeTime) ?? Date.now()) : null,
          lastEventId,
          visibilityStamp(info),
          JSON.stringify(attributes),
          status,
          text(attributes[a.owner]),
          text(attributes[a.team]),
          finite(attributes[a.amount]),
          text(attributes[a.currency]),
          finite(attributes[a.probability]),
          instant(attributes[a.expectedClose]),
          changedAt,
          events.length,
        ],
      );
      for (const c of changes) {
        await db.query(
          `INSERT INTO followed_status_changes (run_id, event_id, workflow_id, process, from_status, to_status, at, context)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
          [
            info.execution?.runId,
            c.eventId,
            pseudonym,
            text(c.context[PIPELINE.attributes.process]) ?? 'unknown',
            c.from,
            c.to,
            c.at,
            JSON.stringify(c.context),
          ],
        );
      }
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      db.release();
    }
    return events.length;
  }

  return {
    /** One pass over the followed processes: reads what changed since the last pass, up to `batch` runs. */
    async followRunningProcesses(opts: IngestOptions): Promise<FollowResult> {
      const state = await pool.query<{ watermark: Date }>('SELECT watermark FROM follow_state');
      const watermark = state.rows[0]!.watermark;
      const listed = await listFollowed(new Date(Math.max(0, watermark.getTime() - opts.overlapSeconds * 1000)), opts.filter);
      const runIds = listed.map((i) => i.execution?.runId ?? '');
      const cursors = new Map(
        (
          await pool.query<Cursor>('SELECT run_id, run_status, last_event_id, visibility, attributes, status FROM followed_runs WHERE run_id = ANY($1)', [
            runIds,
          ])
        ).rows.map((c) => [c.run_id, c]),
      );
      // Oldest first, so a continued-as-new run is read after its predecessor.
      const changed = listed
        .filter((info) => {
          const cursor = cursors.get(info.execution?.runId ?? '');
          return !cursor || (cursor.run_status === 'running' && cursor.visibility !== visibilityStamp(info));
        })
        .sort((x, y) => (timestampToMs(x.startTime) ?? 0) - (timestampToMs(y.startTime) ?? 0));
      const taken = changed.slice(0, opts.batch);
      // The runs of one process one after another; processes side by side.
      const byWorkflow = new Map<string, ExecutionInfo[]>();
      for (const info of taken) byWorkflow.set(info.execution?.workflowId ?? '', [...(byWorkflow.get(info.execution?.workflowId ?? '') ?? []), info]);
      const counts = await mapLimited([...byWorkflow.values()], opts.concurrency, async (runs) => {
        let n = 0;
        for (const info of runs) n += await follow(info, cursors.get(info.execution?.runId ?? ''));
        return n;
      });
      const events = counts.reduce((s, n) => s + n, 0);
      const remaining = changed.length - taken.length;
      // The watermark moves only once every closed run listed is read to its end.
      const lastClose = Math.max(0, ...listed.map((i) => (runStatus(i.status) ? (timestampToMs(i.closeTime) ?? 0) : 0)));
      await pool.query(
        `UPDATE follow_state SET watermark = CASE WHEN $1 THEN GREATEST(watermark, $2) ELSE watermark END,
                last_run_at = now(), last_listed = $3, last_read = $4, last_events = $5`,
        [remaining === 0, new Date(lastClose), listed.length, taken.length, events],
      );
      return { listed: listed.length, read: taken.length, events, remaining };
    },
  };
}

export type FollowActivities = ReturnType<typeof createFollowActivities>;
