/**
 * Analytics ingest against its own limit: the closed histories of BENCH_INGEST_REGISTRATIONS
 * registrations (each a registration workflow plus its message deliveries, through the API and the
 * real worker) are ingested in full (`ingestClosedWorkflows` until nothing remains) and, for the
 * yardstick, fetched by a bare loop with the same visibility query and the same concurrency
 * (list, `getWorkflowExecutionHistory` each, nothing else), before and after the ingest (the mean
 * of both is the limit). Then an incremental run as the schedule makes it (60 s overlap) with
 * nothing new, and one with a few new closed workflows, against the full run.
 * Where the time goes: the bare fetch, fact extraction alone over the same histories, and the rest
 * (store writes) of the full ingest.
 *   BENCH_INGEST_REGISTRATIONS (default 120), BENCH_INGEST_CONCURRENCY (default 8, as ANALYTICS_INGEST_CONCURRENCY)
 * Alone: `npx tsx --expose-gc test/bench/ingest.ts`.
 */
import { pathToFileURL } from 'node:url';
import type { temporal } from '@temporalio/proto';
import { startBenchStack, type BenchStack } from './stack.js';
import { type BenchRow } from './results.js';
import { printRows } from './os-processes.js';
import { createIngestActivities, mapLimited } from '../../src/analytics/ingest/ingest.js';
import { extractFacts } from '../../src/analytics/ingest/facts.js';
import { createStorePool, migrateStore, type StorePool } from '../../src/analytics/store.js';

const SECTION = 'ingest';
const BATCH = 200;
const OVERLAP_SECONDS = 60;

type Events = temporal.api.history.v1.IHistoryEvent[];
type ExecutionInfo = temporal.api.workflow.v1.IWorkflowExecutionInfo;

async function register(stack: BenchStack, tag: string, n: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        const res = await stack.api.request('/v1/customers', {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `Ingest ${tag} ${i}`, email: `ingest-${tag}-${i}@example.com` }),
        });
        // 202: still running past the API's wait on a loaded machine; it closes on its own.
        if (res.status !== 201 && res.status !== 202) throw new Error(`registration answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
  // The welcome deliveries close once their messages are sent.
  const until = performance.now() + 60_000;
  for (;;) {
    const { rows } = await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM notification_outbox WHERE sent_at IS NULL');
    if (rows[0]!.n === 0 || performance.now() > until) break;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The yardstick: the ingest's visibility query, then every history fetched page by page, nothing else. */
async function bareFetch(
  stack: BenchStack,
  query: string,
  concurrency: number,
): Promise<{ seconds: number; histories: Array<{ info: ExecutionInfo; events: Events }> }> {
  const { client } = stack;
  const namespace = client.options.namespace;
  const t0 = performance.now();
  const listed: ExecutionInfo[] = [];
  let token: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({ namespace, query, pageSize: 1000, nextPageToken: token });
    listed.push(...(page.executions ?? []));
    token = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (token);
  const histories = await mapLimited(listed, concurrency, async (info) => {
    const events: Events = [];
    let pageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({
        namespace,
        execution: info.execution,
        nextPageToken: pageToken,
        maximumPageSize: 1000,
      });
      events.push(...(page.history?.events ?? []));
      pageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (pageToken);
    return { info, events };
  });
  return { seconds: (performance.now() - t0) / 1000, histories };
}

/** The store pool with the time spent waiting on it (connections and statements) added up. */
function timedStore(store: StorePool): { pool: StorePool; ms: () => number } {
  let ms = 0;
  const timed =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const s = performance.now();
      try {
        return await fn(...a);
      } finally {
        ms += performance.now() - s;
      }
    };
  const patched = new WeakSet<object>();
  const pool = Object.create(store) as StorePool;
  pool.query = timed(store.query.bind(store) as (...a: unknown[]) => Promise<unknown>) as StorePool['query'];
  pool.connect = (async () => {
    const s = performance.now();
    const client = await store.connect();
    ms += performance.now() - s;
    if (!patched.has(client)) {
      patched.add(client);
      client.query = timed(client.query.bind(client) as (...a: unknown[]) => Promise<unknown>) as typeof client.query;
    }
    return client;
  }) as StorePool['connect'];
  return { pool, ms: () => ms };
}

export async function runIngest(): Promise<BenchRow[]> {
  const registrations = Number(process.env.BENCH_INGEST_REGISTRATIONS ?? 120);
  const concurrency = Number(process.env.BENCH_INGEST_CONCURRENCY ?? 8);
  const taskQueue = 'bench-ingest';
  const stack = await startBenchStack({ taskQueue, poolMax: 20, resultWaitMs: 120_000 });
  const filter = `TaskQueue = '${taskQueue}'`;
  try {
    await stack.pg.ensureDatabase('crm_analytics');
    await migrateStore(stack.pg.url('crm_analytics'));
    const store = createStorePool(stack.pg.url('crm_analytics'));
    try {
      await register(stack, 'full', registrations, 16);
      const timed = timedStore(store);
      const ingest = createIngestActivities({ pool: timed.pool, temporal: stack.client });
      const query = `ExecutionStatus != 'Running' AND CloseTime >= '${new Date(0).toISOString()}' AND WorkflowType != 'analyticsIngest' AND (${filter})`;

      const bare1 = await bareFetch(stack, query, concurrency);
      const t1 = performance.now();
      let histories = 0;
      for (;;) {
        const r = await ingest.ingestClosedWorkflows({ batch: BATCH, concurrency, overlapSeconds: 0, filter });
        histories += r.ingested;
        if (r.remaining === 0) break;
      }
      const fullSeconds = (performance.now() - t1) / 1000;
      const storeSeconds = timed.ms() / 1000;
      const bare2 = await bareFetch(stack, query, concurrency);
      // Fact extraction alone, over the same histories: the decode share of the ingest.
      const t2 = performance.now();
      for (const h of bare2.histories) extractFacts(h.info, h.events);
      const extractSeconds = (performance.now() - t2) / 1000;

      const t3 = performance.now();
      const idle = await ingest.ingestClosedWorkflows({ batch: BATCH, concurrency, overlapSeconds: OVERLAP_SECONDS, filter });
      const idleSeconds = (performance.now() - t3) / 1000;
      await register(stack, 'more', 3, 3);
      const t4 = performance.now();
      const more = await ingest.ingestClosedWorkflows({ batch: BATCH, concurrency, overlapSeconds: OVERLAP_SECONDS, filter });
      const moreSeconds = (performance.now() - t4) / 1000;

      const bareSeconds = (bare1.seconds + bare2.seconds) / 2;
      const n = bare2.histories.length;
      const ingestRate = histories / fullSeconds;
      const bareRate = n / bareSeconds;
      const ratio = Math.round((ingestRate / bareRate) * 100) / 100;
      // Temporal: what is neither the store nor extraction (listing, history pages).
      const temporalSeconds = Math.max(0, fullSeconds - storeSeconds - extractSeconds);
      const share = (s: number) => Math.round((s / fullSeconds) * 100);
      const where =
        `of the full ingest's ${fullSeconds.toFixed(2)} s: Temporal (list + history fetch) ${share(temporalSeconds)} %, ` +
        `fact extraction ${share(extractSeconds)} %, analytics store ${share(storeSeconds)} %; the bare fetch took ${bareSeconds.toFixed(2)} s (mean of before and after)`;
      const incremental = (name: string, seconds: number, ingested: number): BenchRow => {
        const r = Math.round((seconds / fullSeconds) * 1000) / 1000;
        return {
          section: SECTION,
          name,
          n: ingested,
          figures: { seconds: round3(seconds), fullSeconds: round3(fullSeconds) },
          limit: 'full ingest time',
          limitValue: round3(fullSeconds),
          ratio: r,
          target: '<= 0.05 of a full ingest',
          met: r <= 0.05,
          ...(r <= 0.05
            ? {}
            : {
                bound: `a run lists what closed in the last ${OVERLAP_SECONDS} s and reads their run ids back: ${(seconds * 1000).toFixed(0)} ms over ${n} histories`,
              }),
        };
      };
      return [
        {
          section: SECTION,
          name: 'ingest full',
          concurrency,
          n: histories,
          throughputPerSec: round3(ingestRate),
          figures: {
            seconds: round3(fullSeconds),
            bareSeconds: round3(bareSeconds),
            bareBeforeSeconds: round3(bare1.seconds),
            bareAfterSeconds: round3(bare2.seconds),
            temporalSeconds: round3(temporalSeconds),
            extractSeconds: round3(extractSeconds),
            storeSeconds: round3(storeSeconds),
          },
          limit: 'bare history fetch (same query, same concurrency)',
          limitValue: round3(bareRate),
          ratio,
          target: '>= 0.7 of a bare history-fetch loop',
          met: ratio >= 0.7,
          bound: where,
        },
        incremental('ingest incremental, nothing new', idleSeconds, idle.ingested),
        incremental('ingest incremental, a few new', moreSeconds, more.ingested),
      ];
    } finally {
      await store.end();
    }
  } catch (err) {
    // Logged here: stopping the stack may end calls still in flight, whose errors would hide this one.
    console.error(`bench section ${SECTION} failed:`, err);
    throw err;
  } finally {
    await stack.stop();
  }
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  printRows(await runIngest());
  process.exit(0);
}
