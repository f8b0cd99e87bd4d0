/**
 * The analytics process: its own worker on its own task queue, the ingest Schedule, and the
 * analytics HTTP server. It connects to Temporal (read-only use of visibility and histories)
 * and to its own store, never to the operational database.
 */
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection, ScheduleNotFoundError, ScheduleOverlapPolicy, type TLSConfig } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from '../logger.js';
import type { RateLimits } from '../http/security.js';
import { createAnalyticsApi } from './api/app.js';
import { createIngestActivities, type IngestOptions } from './ingest/ingest.js';
import { createFollowActivities } from './ingest/follow.js';
import { createStorePool, migrateStore, type StorePool } from './store.js';

export const ANALYTICS_WORKFLOWS_PATH = fileURLToPath(new URL('./workflows.ts', import.meta.url));

export interface AnalyticsOptions {
  storeUrl: string;
  storeSchema?: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  scheduleId: string;
  ingestEvery: string;
  ingest: IngestOptions;
  keys: Array<{ actor: string; sha256: string }>;
  http?: { host: string; port: number };
  logger: Logger;
  /** TEMPORAL_RETENTION in ms: how long Temporal keeps what analytics has yet to ingest. */
  retentionMs: number;
  /** TEMPORAL_TLS_*: the TLS options of both Temporal connections (src/temporal.ts temporalTls). */
  temporalTls?: TLSConfig;
  /** RATE_LIMIT_PER_MINUTE, RATE_LIMIT_PER_ADDRESS_PER_MINUTE of the analytics API. */
  rateLimits?: RateLimits;
}

export interface AnalyticsService {
  pool: StorePool;
  client: Client;
  worker: Worker;
  app: ReturnType<typeof createAnalyticsApi>;
  url?: string;
  stop(): Promise<void>;
}

export async function ensureIngestSchedule(client: Client, opts: Pick<AnalyticsOptions, 'scheduleId' | 'ingestEvery' | 'taskQueue' | 'ingest'>): Promise<void> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'analyticsIngest',
    args: [opts.ingest],
    taskQueue: opts.taskQueue,
    workflowId: `${opts.scheduleId}-run`,
  };
  const spec = { intervals: [{ every: opts.ingestEvery as `${number} minute` }] };
  const handle = client.schedule.getHandle(opts.scheduleId);
  try {
    await handle.describe();
    await handle.update((prev) => ({ ...prev, spec, action }));
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create({
      scheduleId: opts.scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
  }
}

export async function startAnalytics(opts: AnalyticsOptions): Promise<AnalyticsService> {
  await migrateStore(opts.storeUrl, opts.storeSchema);
  const pool = createStorePool(opts.storeUrl, opts.storeSchema);
  const tls = opts.temporalTls ? { tls: opts.temporalTls } : {};
  const connection = await Connection.connect({ address: opts.temporalAddress, ...tls });
  const client = new Client({ connection, namespace: opts.namespace });
  const nativeConnection = await NativeConnection.connect({ address: opts.temporalAddress, ...tls });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowsPath: ANALYTICS_WORKFLOWS_PATH,
    activities: { ...createIngestActivities({ pool, temporal: client }), ...createFollowActivities({ pool, temporal: client }) },
  });
  const running = worker.run();
  await ensureIngestSchedule(client, opts);

  const app = createAnalyticsApi({
    pool,
    temporal: client,
    logger: opts.logger,
    keys: opts.keys,
    retentionMs: opts.retentionMs,
    ingestFilter: opts.ingest.filter,
    rateLimits: opts.rateLimits,
  });
  let server: ServerType | undefined;
  let url: string | undefined;
  if (opts.http) {
    const { host, port } = opts.http;
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
      s.once('error', reject);
    });
    url = `http://localhost:${port}`;
  }
  opts.logger.info({ taskQueue: opts.taskQueue, scheduleId: opts.scheduleId, url }, 'analytics running');
  return {
    pool,
    client,
    worker,
    app,
    url,
    async stop() {
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await nativeConnection.close();
      await connection.close();
      await pool.end();
    },
  };
}
