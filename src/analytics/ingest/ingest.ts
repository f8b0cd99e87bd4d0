/**
 * Ingestion: list closed executions after the stored watermark, fetch their histories with
 * bounded concurrency, extract facts and write them, with the watermark, in one transaction.
 * Writes are keyed by run id, so a retried or repeated ingest changes nothing; a rerun lists
 * only what closed since the watermark (less a small overlap for late visibility records).
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { StorePool } from '../store.js';
import { extractFacts, timestampToMs, type RunFacts } from './facts.js';
import { ERASURE } from '../contract.js';

type ExecutionInfo = temporal.api.workflow.v1.IWorkflowExecutionInfo;

export interface IngestOptions {
  /** Closed runs written per transaction. */
  batch: number;
  /** Histories fetched at once. */
  concurrency: number;
  overlapSeconds: number;
  /** Extra visibility filter, e.g. `TaskQueue = 'x'` (tests isolate themselves with it). */
  filter?: string;
}

export interface IngestResult {
  ingested: number;
  remaining: number;
  watermark: string;
}

export interface IngestDeps {
  pool: StorePool;
  temporal: Client;
  /** Workflow types never ingested: analytics' own. */
  excludeTypes?: string[];
}

/**
 * Tells Temporal the ingest activity is alive, once per page or history read: a worker that died
 * mid-ingest has its activity retried after the heartbeat timeout, not after the whole
 * start-to-close timeout. Outside an activity (backfill, benches) there is nobody to tell.
 */
export function alive(): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return;
  }
  ctx.heartbeat();
}

export async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

export function createIngestActivities({ pool, temporal: client, excludeTypes = ['analyticsIngest'] }: IngestDeps) {
  const namespace = client.options.namespace;

  async function listClosedSince(since: Date, filter?: string): Promise<ExecutionInfo[]> {
    // The watermark holds whole milliseconds of a close time Temporal keeps finer: the ingested run
    // closed within the watermark's millisecond.
    const clauses = [`ExecutionStatus != 'Running'`, `CloseTime >= '${since.toISOString()}'`, ...excludeTypes.map((t) => `WorkflowType != '${t}'`)];
    if (filter) clauses.push(`(${filter})`);
    const query = clauses.join(' AND ');
    const out: ExecutionInfo[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.listWorkflowExecutions({ namespace, query, pageSize: 1000, nextPageToken });
      alive();
      out.push(...(page.executions ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return out;
  }

  async function fetchEvents(info: ExecutionInfo) {
    const events: temporal.api.history.v1.IHistoryEvent[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({
        namespace,
        execution: info.execution,
        nextPageToken,
        maximumPageSize: 1000,
      });
      alive();
      events.push(...(page.history?.events ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return events;
  }

  /**
   * One transaction per batch, three statements whatever its size (a statement per row cost a third
   * of a full ingest in `test/bench/ingest.ts`): the runs, then the transitions and activity counts
   * of the runs that were new (a run already stored keeps what it has).
   */
  async function write(facts: RunFacts[], watermark: Date): Promise<void> {
    const db = await pool.connect();
    try {
      await db.query('BEGIN');
      const erased: string[] = [];
      const runs = facts.map((f) => ({
        run_id: f.runId,
        workflow_id: f.workflowId,
        workflow_type: f.workflowType,
        process: f.process,
        status: f.status,
        failure_type: f.failureType,
        final_status: f.finalStatus,
        attributes: f.attributes,
        start_time: f.startTime,
        close_time: f.closeTime,
        duration_ms: f.durationMs,
        history_length: f.historyLength,
        activity_failure_type: f.activityFailureType,
        customer_id: f.customerId,
      }));
      for (const f of facts) if (f.workflowType === ERASURE.workflowType && f.finalStatus === ERASURE.erasedStatus && f.customerId) erased.push(f.customerId);
      const inserted = await db.query<{ run_id: string }>(
        `INSERT INTO process_runs (run_id, workflow_id, workflow_type, process, status, failure_type, final_status, attributes, start_time, close_time, duration_ms, history_length,
                                   activity_failure_type)
         SELECT run_id, analytics_pseudonym(workflow_id, customer_id), workflow_type, process, status, failure_type, final_status, attributes, start_time, close_time, duration_ms, history_length, activity_failure_type
         FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, workflow_id text, workflow_type text, process text, status text, failure_type text, final_status text,
                                                attributes jsonb, start_time timestamptz, close_time timestamptz, duration_ms bigint, history_length integer,
                                                activity_failure_type text, customer_id text)
         ON CONFLICT (run_id) DO NOTHING
         RETURNING run_id`,
        [JSON.stringify(runs)],
      );
      const fresh = new Set(inserted.rows.map((r) => r.run_id));
      const added = facts.filter((f) => fresh.has(f.runId));
      const transitions = added.flatMap((f) =>
        f.transitions.map((t) => ({
          run_id: f.runId,
          seq: t.seq,
          workflow_type: f.workflowType,
          from_status: t.from,
          to_status: t.to,
          at: t.at,
          ms_in_from: t.msInFrom,
          context: t.context,
        })),
      );
      if (transitions.length) {
        await db.query(
          `INSERT INTO status_transitions (run_id, seq, workflow_type, from_status, to_status, at, ms_in_from, context)
           SELECT run_id, seq, workflow_type, from_status, to_status, at, ms_in_from, context
           FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, seq integer, workflow_type text, from_status text, to_status text, at timestamptz, ms_in_from bigint, context jsonb)
           ON CONFLICT DO NOTHING`,
          [JSON.stringify(transitions)],
        );
      }
      const counts = added.flatMap((f) => f.activities.map((a) => ({ run_id: f.runId, activity_type: a.type, completed: a.completed, failed: a.failed })));
      if (counts.length) {
        await db.query(
          `INSERT INTO activity_counts (run_id, activity_type, completed, failed)
           SELECT run_id, activity_type, completed, failed
           FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, activity_type text, completed integer, failed integer)
           ON CONFLICT DO NOTHING`,
          [JSON.stringify(counts)],
        );
      }
      // Customers erased: their runs stay counted, but nothing here ties them to the customer any more
      // (after the batch, so runs of theirs earlier in it are covered too).
      for (const customerId of erased) {
        await db.query('DELETE FROM pseudonyms WHERE customer_id = $1 OR position($1 in real_id) > 0', [customerId]);
        await db.query("INSERT INTO erased_customers (customer_sha256) VALUES (encode(sha256(convert_to($1, 'UTF8')), 'hex')) ON CONFLICT DO NOTHING", [
          customerId,
        ]);
      }
      await db.query(
        `UPDATE ingest_state SET watermark = GREATEST(watermark, $1), runs_ingested = (SELECT count(*) FROM process_runs), last_run_at = now(), last_batch = $2`,
        [watermark, facts.length],
      );
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      db.release();
    }
  }

  return {
    /** Ingests up to `batch` closed runs, oldest first; `remaining` says how many more wait. */
    async ingestClosedWorkflows(opts: IngestOptions): Promise<IngestResult> {
      const state = await pool.query<{ watermark: Date }>('SELECT watermark FROM ingest_state');
      const watermark = state.rows[0]!.watermark;
      const since = new Date(Math.max(0, watermark.getTime() - opts.overlapSeconds * 1000));
      const listed = await listClosedSince(since, opts.filter);
      const runIds = listed.map((i) => i.execution?.runId ?? '');
      const known = new Set(
        runIds.length
          ? (await pool.query<{ run_id: string }>('SELECT run_id FROM process_runs WHERE run_id = ANY($1)', [runIds])).rows.map((r) => r.run_id)
          : [],
      );
      // Oldest first, ties broken by run id, so a batch boundary inside a tie loses nothing:
      // the watermark stays at that close time and the rest are read again next time.
      const pending = listed
        .filter((i) => !known.has(i.execution?.runId ?? ''))
        .map((info) => ({ info, closeMs: timestampToMs(info.closeTime) ?? 0 }))
        .sort((a, b) => a.closeMs - b.closeMs || String(a.info.execution?.runId).localeCompare(String(b.info.execution?.runId)));
      const taken = pending.slice(0, opts.batch);
      if (taken.length === 0) {
        await pool.query('UPDATE ingest_state SET last_run_at = now(), last_batch = 0');
        return { ingested: 0, remaining: 0, watermark: watermark.toISOString() };
      }
      const facts = await mapLimited(taken, opts.concurrency, async ({ info }) => extractFacts(info, await fetchEvents(info)));
      const newWatermark = new Date(taken.at(-1)!.closeMs);
      await write(facts, newWatermark);
      return {
        ingested: facts.length,
        remaining: pending.length - taken.length,
        watermark: new Date(Math.max(newWatermark.getTime(), watermark.getTime())).toISOString(),
      };
    },

    /** Empties the store and the watermarks: the next ingest rebuilds everything. */
    async resetStore(): Promise<void> {
      await pool.query(
        "BEGIN; TRUNCATE process_runs, followed_runs CASCADE; UPDATE ingest_state SET watermark = 'epoch', runs_ingested = 0, last_batch = 0; UPDATE follow_state SET watermark = 'epoch'; COMMIT;",
      );
    },
  };
}

export type IngestActivities = ReturnType<typeof createIngestActivities>;

export interface IngestLag {
  /** Close time of the newest ingested run; null before the first ingest. */
  watermark: string | null;
  /** Closed runs Temporal holds that analytics has not ingested yet; null when Temporal did not answer. */
  pending: number | null;
  /** How far ingestion is behind: 0 when nothing waits, else now minus the watermark (an upper bound of the oldest waiting run's age). */
  lagSeconds: number | null;
  /** TEMPORAL_RETENTION: Temporal deletes a closed run this long after it closed, ingested or not. */
  retentionSeconds: number;
  /** Set when the lag reached half the retention, or nothing was ingested yet while runs wait. */
  warning?: string;
}

const days = (seconds: number) => `${Math.round((seconds / 86_400) * 10) / 10} days`;

/**
 * How far analytics lags behind Temporal. Runs that close after the watermark are the ones not yet
 * ingested (ingestion takes them oldest first), so counting them is one visibility count.
 */
export async function ingestLag(
  deps: Pick<IngestDeps, 'pool' | 'temporal' | 'excludeTypes'> & { retentionMs: number; filter?: string },
  now = new Date(),
): Promise<IngestLag> {
  const { rows } = await deps.pool.query<{ watermark: Date }>('SELECT watermark FROM ingest_state');
  const mark = rows[0]!.watermark;
  const ingested = mark.getTime() > 0;
  const excludeTypes = deps.excludeTypes ?? ['analyticsIngest'];
  // The watermark holds whole milliseconds of a close time Temporal keeps finer: the ingested run
  // closed within the watermark's millisecond.
  const clauses = [
    `ExecutionStatus != 'Running'`,
    ...(ingested ? [`CloseTime >= '${new Date(mark.getTime() + 1).toISOString()}'`] : []),
    ...excludeTypes.map((t) => `WorkflowType != '${t}'`),
  ];
  if (deps.filter) clauses.push(`(${deps.filter})`);
  let pending: number | null = null;
  try {
    const counted = await deps.temporal.workflowService.countWorkflowExecutions({
      namespace: deps.temporal.options.namespace,
      query: clauses.join(' AND '),
    });
    pending = Number(counted.count ?? 0);
  } catch {
    // Temporal unreachable: readiness says so; the lag falls back to the watermark alone.
  }
  const retentionSeconds = Math.round(deps.retentionMs / 1000);
  const lagSeconds = pending === 0 ? 0 : ingested ? Math.max(0, Math.round((now.getTime() - mark.getTime()) / 1000)) : null;
  const lag: IngestLag = { watermark: ingested ? mark.toISOString() : null, pending, lagSeconds, retentionSeconds };
  if (lagSeconds !== null && lagSeconds * 2 >= retentionSeconds) {
    lag.warning =
      `Ingestion is ${days(lagSeconds)} behind and Temporal deletes closed workflows ${days(retentionSeconds)} after they close ` +
      '(TEMPORAL_RETENTION): runs not ingested by then are lost to the reports. Check the analytics-ingest Schedule and the analytics worker.';
  } else if (!ingested && pending) {
    lag.warning = `Nothing ingested yet while ${pending} closed workflows wait; the analytics-ingest Schedule takes them on its next run.`;
  }
  return lag;
}
