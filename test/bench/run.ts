/**
 * `npm run bench`: throughput of the operational path and of analytics ingestion on this
 * machine, on a fresh Temporal dev server and embedded PostgreSQL, printed as figures and ratios.
 *   BENCH_REGISTRATIONS (default 300), BENCH_CONCURRENCY (default 16)
 */
import os from 'node:os';
import { createIngestActivities } from '../../src/analytics/ingest/ingest.js';
import { createStorePool, migrateStore } from '../../src/analytics/store.js';
import { percentile, startBenchStack } from './stack.js';

const N = Number(process.env.BENCH_REGISTRATIONS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const fmt = (n: number, d = 1) => n.toFixed(d);
/** Heap in use after a full collection (the script runs with --expose-gc), so the figure is not GC timing. */
const heapUsed = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};

const stack = await startBenchStack({ taskQueue: 'bench', poolMax: 20, resultWaitMs: 120_000 });
try {
  const { pg, pool, client, taskQueue, api, key } = stack;
  await pg.ensureDatabase('crm_analytics');
  await migrateStore(pg.url('crm_analytics'));

  // 1. Operational: registrations through the API, each a workflow plus its welcome delivery.
  const heapBefore = heapUsed();
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const s = performance.now();
        const res = await api.request('/v1/customers', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `Bench Customer ${i}`, email: `bench-${i}@example.com` }),
        });
        if (res.status !== 201) throw new Error(`registration ${i} answered ${res.status}: ${await res.text()}`);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const registerSeconds = (performance.now() - t0) / 1000;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM notification_outbox WHERE sent_at IS NULL');
    if (rows[0]!.n === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const operationalSeconds = (performance.now() - t0) / 1000;
  const heapAfter = heapUsed();

  // 2. Analytics: ingest every closed history (registrations and deliveries), then a no-op rerun.
  const store = createStorePool(pg.url('crm_analytics'));
  const ingest = createIngestActivities({ pool: store, temporal: client });
  const t1 = performance.now();
  let histories = 0;
  for (;;) {
    const r = await ingest.ingestClosedWorkflows({ batch: 200, concurrency: 8, overlapSeconds: 0, filter: `TaskQueue = '${taskQueue}'` });
    histories += r.ingested;
    if (r.remaining === 0) break;
  }
  const ingestSeconds = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const rerun = await ingest.ingestClosedWorkflows({
    batch: 200,
    concurrency: 8,
    overlapSeconds: 60,
    filter: `TaskQueue = '${taskQueue}'`,
  });
  const rerunSeconds = (performance.now() - t2) / 1000;

  const registrationsPerSecond = N / registerSeconds;
  // Every workflow of the queue that closed during the operational phase (registrations, deliveries, ...).
  const workflowsPerSecond = histories / operationalSeconds;
  const historiesPerSecond = histories / ingestSeconds;
  console.log(`
CRM process engine benchmark (${os.cpus().length} cores, Node ${process.version})
  registrations              ${N} over HTTP, ${CONCURRENCY} concurrent
    throughput               ${fmt(registrationsPerSecond)} registrations/s (${fmt(workflowsPerSecond)} closed workflows/s incl. message deliveries)
    latency p50 / p95        ${fmt(percentile(latencies, 50), 0)} ms / ${fmt(percentile(latencies, 95), 0)} ms
    heap growth              ${fmt((heapAfter - heapBefore) / 1024 / N, 1)} KiB per registration (API + worker process, incl. cached open onboarding workflows)
  analytics ingest           ${histories} histories in ${fmt(ingestSeconds, 2)} s = ${fmt(historiesPerSecond)} histories/s
    no-op rerun              ${rerun.ingested} new, ${fmt(rerunSeconds * 1000, 0)} ms
  ratios
    ingest / operational     ${fmt(historiesPerSecond / workflowsPerSecond, 2)}x  (>1: analytics keeps up with the workflows operations close)
    rerun / full ingest      ${fmt(rerunSeconds / ingestSeconds, 3)}   (a rerun costs only what closed since)
`);
  await store.end();
} finally {
  await stack.stop();
}
