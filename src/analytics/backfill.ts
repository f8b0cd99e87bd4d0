/**
 * `npm run analytics:backfill`: rebuilds the analytics store from every closed workflow that
 * Temporal still holds. Runs in this process; the analytics worker may keep running.
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config.js';
import { temporalTls } from '../temporal.js';
import { createIngestActivities } from './ingest/ingest.js';
import { createFollowActivities } from './ingest/follow.js';
import { createStorePool, migrateStore } from './store.js';

const config = loadConfig();
const storeUrl = config.database.analyticsUrl;
if (!storeUrl) {
  console.error('ANALYTICS_DATABASE_URL is required');
  process.exit(2);
}
await migrateStore(storeUrl);
const pool = createStorePool(storeUrl);
const tls = temporalTls(config.temporal.tls);
const connection = await Connection.connect({ address: config.temporal.address ?? `127.0.0.1:${config.temporal.devPort}`, ...(tls ? { tls } : {}) });
const temporal = new Client({ connection, namespace: config.temporal.namespace });
const ingest = createIngestActivities({ pool, temporal });
const follow = createFollowActivities({ pool, temporal });
await ingest.resetStore();
const t0 = performance.now();
let total = 0;
for (;;) {
  const r = await ingest.ingestClosedWorkflows({
    batch: config.analytics.ingestBatch,
    concurrency: config.analytics.ingestConcurrency,
    overlapSeconds: 0,
  });
  total += r.ingested;
  console.log(`ingested ${total} runs (watermark ${r.watermark}, ${r.remaining} left)`);
  if (r.remaining === 0) break;
}
const options = { batch: config.analytics.ingestBatch, concurrency: config.analytics.ingestConcurrency, overlapSeconds: 0 };
let followed = 0;
for (let pass = await follow.followRunningProcesses(options); ; pass = await follow.followRunningProcesses(options)) {
  followed += pass.read;
  if (pass.remaining === 0) break;
}
const seconds = (performance.now() - t0) / 1000;
console.log(
  `backfill done: ${total} runs in ${seconds.toFixed(1)} s (${(total / Math.max(seconds, 0.001)).toFixed(1)} histories/s); ${followed} funnel and task runs followed`,
);
await pool.end();
await connection.close();
