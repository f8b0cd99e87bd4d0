/** `npm run analytics`: the analytics process (npm start runs it as a child process). */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startAnalytics } from './service.js';
import { temporalTls } from '../temporal.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'crm-analytics');
const storeUrl = config.database.analyticsUrl;
if (!storeUrl) {
  logger.fatal('ANALYTICS_DATABASE_URL is required (npm start sets it for the embedded PostgreSQL)');
  process.exit(2);
}
Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
const service = await startAnalytics({
  storeUrl,
  temporalAddress: config.temporal.address ?? `127.0.0.1:${config.temporal.devPort}`,
  namespace: config.temporal.namespace,
  taskQueue: config.analytics.taskQueue,
  scheduleId: 'analytics-ingest',
  ingestEvery: config.analytics.ingestEvery,
  ingest: {
    batch: config.analytics.ingestBatch,
    concurrency: config.analytics.ingestConcurrency,
    overlapSeconds: config.analytics.ingestOverlapSeconds,
  },
  keys: config.analytics.keys,
  http: { host: config.analytics.host, port: config.analytics.port },
  logger,
  retentionMs: config.temporal.retentionMs,
  temporalTls: temporalTls(config.temporal.tls),
  rateLimits: config.api.rateLimits,
});
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
