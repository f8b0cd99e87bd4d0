/**
 * What every benchmark runs on: a fresh Temporal dev server and embedded PostgreSQL in a temporary
 * directory (database `crm` migrated), the operational worker on its own task queue, and the API
 * with one `agent` key. `stop()` stops all of it and removes the directory.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createApi } from '../../src/api/app.js';
import { hashKey } from '../../src/auth/keys.js';
import { bootstrapUsers } from '../../src/api/bootstrap.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { freePort } from '../../src/dev/ports.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/dev/postgres.js';
import { resolveTemporalCli } from '../../src/dev/temporal-cli.js';
import { startDevServer } from '../../src/dev/temporal-server.js';
import { createLogger } from '../../src/logger.js';
import { FileTransport } from '../../src/notifications/transport.js';
import { buildWorkflowBundle } from '../../src/worker/bundle.js';
import { createOperationalWorker } from '../../src/worker/worker.js';

export interface BenchStack {
  pg: EmbeddedPg;
  pool: Pool;
  client: Client;
  taskQueue: string;
  api: ReturnType<typeof createApi>;
  /** The API key of the `agent` role. */
  key: string;
  stop(): Promise<void>;
}

export async function startBenchStack(opts: { taskQueue: string; poolMax: number; resultWaitMs: number }): Promise<BenchStack> {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-bench-'));
  await chmod(dir, 0o755);
  const cli = await resolveTemporalCli();
  const [temporal, pg, bundle] = await Promise.all([
    freePort().then((port) => startDevServer({ cli, port, logFile: path.join(dir, 'temporal.log') })),
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
    const worker = await createOperationalWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: bundle,
      pool,
      transport: new FileTransport(path.join(dir, 'mail')),
    });
    const running = worker.run();
    const key = 'bench-key';
    const keys = [{ role: 'agent' as const, actor: 'bench', sha256: hashKey(key) }];
    await bootstrapUsers(pool, keys);
    const api = createApi({
      pool,
      temporal: client,
      taskQueue,
      pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
      logger: createLogger('silent'),
      keys,
      resultWaitMs: opts.resultWaitMs,
    });
    return {
      pg,
      pool,
      client,
      taskQueue,
      api,
      key,
      async stop() {
        worker.shutdown();
        await running;
        await Promise.all([pool.end(), nativeConnection.close(), connection.close()]);
        await services();
      },
    };
  } catch (err) {
    await services();
    throw err;
  }
}

export const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
