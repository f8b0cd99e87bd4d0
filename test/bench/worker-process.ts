/**
 * The operational worker alone in a process, for the benchmarks that measure it from outside (its
 * RSS, its CPU, two of them on one task queue): `createOperationalWorker` as the bench stack runs
 * it (no payload codec, messages to files), its settings from the environment through the config
 * module: TEMPORAL_ADDRESS, DATABASE_URL, TEMPORAL_TASK_QUEUE, WORKFLOW_BUNDLE_PATH (built ahead),
 * MAILBOX_DIR, WORKER_MAX_CACHED_WORKFLOWS. Sends `ready` to its parent (fork IPC) once polling,
 * and stops on SIGTERM.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../../src/config.js';
import { createPool } from '../../src/db/pool.js';
import { FileTransport } from '../../src/notifications/transport.js';
import { createOperationalWorker } from '../../src/worker/worker.js';

const config = loadConfig();
if (!config.temporal.address || !config.database.url || !config.workflowBundlePath || !config.mail.mailboxDir) {
  throw new Error('worker-process needs TEMPORAL_ADDRESS, DATABASE_URL, WORKFLOW_BUNDLE_PATH and MAILBOX_DIR');
}
Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
const pool = createPool({ connectionString: config.database.url, max: Number(process.env.BENCH_WORKER_POOL_MAX ?? 10), applicationName: 'crm-bench-worker' });
const connection = await NativeConnection.connect({ address: config.temporal.address });
const worker = await createOperationalWorker({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  workflowBundle: { codePath: config.workflowBundlePath },
  tuning: config.temporal.worker,
  pool,
  transport: new FileTransport(config.mail.mailboxDir),
  settings: { acquisition: config.acquisition, masterData: config.masterData, consent: config.consent, webhooks: config.webhooks },
});
const running = worker.run();
process.send?.('ready');
process.once('SIGTERM', () => worker.shutdown());
await running;
await Promise.all([pool.end(), connection.close()]);
process.exit(0);
