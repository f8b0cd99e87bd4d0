/**
 * What every benchmark runs on: a Temporal dev server started the way `npm start` starts it (its
 * SQLite file in a temporary directory), embedded PostgreSQL (database `crm` migrated), the
 * operational worker on its own task queue, and the API served over HTTP on a free port, with an
 * `agent` key and a `backoffice` key (a second person, for approvals).
 *
 * With `noop` set, a second worker runs the same workflow bundle on `<taskQueue>-noop` with every
 * activity a no-op (test/bench/noop-activities.ts): the limit the processes are measured against.
 * `stop()` stops all of it and removes the directory.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createApi } from '../../src/api/app.js';
import { hashKey } from '../../src/auth/keys.js';
import { bootstrapUsers } from '../../src/api/bootstrap.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { freePort } from '../../src/dev/ports.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/dev/postgres.js';
import { resolveTemporalCli } from '../../src/dev/temporal-cli.js';
import { startDevServer } from '../../src/dev/temporal-server.js';
import { defaultConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { FileTransport } from '../../src/notifications/transport.js';
import { buildWorkflowBundle } from '../../src/worker/bundle.js';
import { createOperationalWorker, workerTuningOptions } from '../../src/worker/worker.js';
import { createNoopActivities, type NoopCampaigns } from './noop-activities.js';

export { percentile } from './results.js';

export interface BenchStack {
  pg: EmbeddedPg;
  pool: Pool;
  client: Client;
  taskQueue: string;
  /** The no-op worker's task queue (only with `noop`). */
  noopTaskQueue: string;
  /** The in-process app (no socket), for scripts that measure the handlers alone. */
  api: ReturnType<typeof createApi>;
  /** Where the same app listens over HTTP, e.g. http://127.0.0.1:41234. */
  baseUrl: string;
  /** The API key of the `agent` role (actor `bench`). */
  key: string;
  /** The API key of a `backoffice` user: a second person, e.g. to approve a change. */
  backofficeKey: string;
  stop(): Promise<void>;
}

/**
 * The workflow cache of the two in-process workers: BENCH_STACK_CACHE, or unset the product's
 * default (WORKER_TUNING_DEFAULTS). Before the bundle shared its pure modules, two caches of the
 * SDK's default size in one process under a campaign run's thousands of enrollments made GC pauses
 * in the workflow threads pass the SDK's 5 s activation limit ("Script execution timed out"
 * creating a workflow), and the aborted script left Node's async hooks corrupted (2026-12-03).
 */
const BENCH_CACHE = process.env.BENCH_STACK_CACHE === undefined ? undefined : Number(process.env.BENCH_STACK_CACHE);

export interface BenchStackOptions {
  taskQueue: string;
  poolMax: number;
  resultWaitMs: number;
  /** Start the no-op worker too; the campaigns it knows are registered here by the bench. */
  noop?: NoopCampaigns;
}

export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  // BENCH_LOG=WARN shows the workers' retries (an activity that keeps failing makes a process look slow).
  const level = (process.env.BENCH_LOG as 'WARN' | undefined) ?? 'ERROR';
  Runtime.install({
    logger: new DefaultLogger(level),
    // The core's own warnings too (a workflow task over 5 s on a loaded machine), unless asked for.
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level, other: level }), forward: {} } },
    shutdownSignals: [],
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-bench-'));
  await chmod(dir, 0o755);
  const cli = await resolveTemporalCli();
  const [temporal, pg, bundle] = await Promise.all([
    // As `npm start` does (src/dev/start.ts): the server's state in a SQLite file, its output in a log.
    freePort().then((port) => startDevServer({ cli, port, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') })),
    freePort().then((port) => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port })),
    buildWorkflowBundle(),
  ]);
  const services = async () => {
    await Promise.allSettled([temporal.stop(), pg.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await pg.ensureDatabase('crm');
    await migrate({ connectionString: pg.url('crm') });
    const pool = createPool({ connectionString: pg.url('crm'), max: opts.poolMax });
    const nativeConnection = await NativeConnection.connect({ address: temporal.address });
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const { taskQueue } = opts;
    const noopTaskQueue = `${taskQueue}-noop`;
    const workers: Worker[] = [
      await createOperationalWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        workflowBundle: bundle,
        pool,
        transport: new FileTransport(path.join(dir, 'mail')),
        tuning: { maxCachedWorkflows: BENCH_CACHE },
      }),
    ];
    if (opts.noop) {
      workers.push(
        await Worker.create({
          connection: nativeConnection,
          namespace: 'default',
          taskQueue: noopTaskQueue,
          workflowBundle: bundle,
          activities: createNoopActivities(opts.noop),
          shutdownGraceTime: '10 seconds',
          ...workerTuningOptions({ maxCachedWorkflows: BENCH_CACHE }),
        }),
      );
    }
    const running = workers.map((w) => w.run());
    const key = 'bench-key';
    const backofficeKey = 'bench-backoffice-key';
    const keys = [
      { role: 'agent' as const, actor: 'bench', sha256: hashKey(key), team: defaultConfig().acquisition.leadTeam, teamLead: true },
      { role: 'backoffice' as const, actor: 'bench-backoffice', sha256: hashKey(backofficeKey) },
    ];
    await bootstrapUsers(pool, keys);
    const api = createApi({
      pool,
      temporal: client,
      taskQueue,
      pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
      logger: createLogger('silent'),
      keys,
      resultWaitMs: opts.resultWaitMs,
      // The bench is one client calling as fast as it can: the per-key limit would measure itself.
      rateLimits: { perKey: 1e9, perAddress: 1e9 },
    });
    const port = await freePort();
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: api.fetch, port, hostname: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    return {
      pg,
      pool,
      client,
      taskQueue,
      noopTaskQueue,
      api,
      baseUrl: `http://127.0.0.1:${port}`,
      key,
      backofficeKey,
      async stop() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        for (const w of workers) w.shutdown();
        await Promise.all(running);
        await Promise.all([pool.end(), nativeConnection.close(), connection.close()]);
        await services();
      },
    };
  } catch (err) {
    await services();
    throw err;
  }
}
