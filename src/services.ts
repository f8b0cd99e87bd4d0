/**
 * The operational services, wired from configuration: used by `npm start` (in one process) and
 * by the separate entry points `src/worker/main.ts` and `src/api/main.ts` (one process each).
 */
import { serve, type ServerType } from '@hono/node-server';
import { Connection } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { createApi } from './api/app.js';
import { startIdempotencyPurge } from './api/idempotency.js';
import { idempotencyKeyStore } from './db/repositories/idempotency-keys.js';
import { AesGcmPayloadCodec, createDataConverter, keyringFromConfig } from './codec/index.js';
import { checkPolicy } from './domain/master-data.js';
import { pageTokenSecretOf, type Config } from './config.js';
import { bootstrapUsers, type BootstrapKey } from './api/bootstrap.js';
import { createPool, type Pool } from './db/pool.js';
import type { Logger } from './logger.js';
import { createTransport } from './notifications/transport.js';
import { connectClient, connectWorker, temporalTls } from './temporal.js';
import { createLocalCodecApp } from './api/routes/codec.js';
import { randomBytes } from 'node:crypto';
import { loadWorkflowBundle } from './worker/bundle.js';
import { createOperationalWorker } from './worker/worker.js';
import { startWebhookWakeup } from './worker/webhook-wakeup.js';
import { bundleBuildId, describeDeployment, promoteVersion } from './worker/deployment.js';

export interface Endpoints {
  databaseUrl: string;
  temporalAddress: string;
}

export interface RunningService {
  stop(): Promise<void>;
}

/** The SDK's own log lines: warnings and errors only, next to our JSON logs. */
export function installWorkerRuntime(): void {
  try {
    // Signals are handled by onShutdown, which stops the API before the worker.
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  } catch {
    // already installed in this process
  }
}

export async function startWorkerService(
  config: Config,
  endpoints: Endpoints,
  logger: Logger,
  bundle?: { code: string },
  /** `npm start` makes its version current whatever WORKER_PROMOTE says: it is the only worker. */
  promote: Config['temporal']['versioning']['promote'] = config.temporal.versioning.promote,
): Promise<RunningService & { worker: Worker; pool: Pool; done: Promise<void>; version?: WorkerDeploymentVersion }> {
  installWorkerRuntime();
  const pool = createPool({ connectionString: endpoints.databaseUrl, applicationName: 'crm-worker' });
  checkPolicy(config.masterData);
  const transport = createTransport({ mail: config.mail, sms: config.sms });
  const connection = await connectWorker(endpoints.temporalAddress, temporalTls(config.temporal.tls));
  const dataConverter = createDataConverter(keyringFromConfig(config.codec));
  const workflowBundle = bundle ?? (await loadWorkflowBundle(config.workflowBundlePath));
  const { versioning } = config.temporal;
  const version = versioning.enabled
    ? { deploymentName: versioning.deploymentName, buildId: versioning.buildId ?? (await bundleBuildId(workflowBundle)) }
    : undefined;
  const worker = await createOperationalWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle,
    deploymentVersion: version,
    maxCachedWorkflows: config.temporal.maxCachedWorkflows,
    dataConverter,
    pool,
    transport,
    settings: { acquisition: config.acquisition, masterData: config.masterData, consent: config.consent, webhooks: config.webhooks },
  });
  // Committed events wake their subscriptions' delivery workflows at once (src/worker/webhook-wakeup.ts).
  const client = await connectClient(endpoints.temporalAddress, config.temporal.namespace, dataConverter);
  const wakeup = await startWebhookWakeup({ connectionString: endpoints.databaseUrl, client, taskQueue: config.temporal.taskQueue, logger });
  const done = worker.run().catch((err: unknown) => {
    logger.error({ err }, 'operational worker failed');
    throw err;
  });
  logger.info({ taskQueue: config.temporal.taskQueue, transport: transport.name, version }, 'operational worker running');
  if (version && promote !== 'none') await promoteOnStart(endpoints.temporalAddress, config.temporal.namespace, version, promote, logger);
  return {
    worker,
    pool,
    done,
    version,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
      await wakeup.stop();
      await client.connection.close();
      await connection.close();
      await transport.close?.();
      await pool.end();
    },
  };
}

/**
 * A starting worker's version becomes current when WORKER_PROMOTE says so: always (`current`), or
 * when the deployment has none yet (`if-none`: the first deployment works with no manual step,
 * later ones follow the rollout procedure).
 */
async function promoteOnStart(
  address: string,
  namespace: string,
  version: WorkerDeploymentVersion,
  promote: 'current' | 'if-none',
  logger: Logger,
): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    if (promote === 'if-none') {
      const current = await describeDeployment(connection, namespace, version.deploymentName).then(
        (d) => d.current,
        () => undefined,
      );
      if (current) {
        if (current !== version.buildId) logger.info({ version, current }, 'worker version registered; the current version stays (see the rollout procedure)');
        return;
      }
    }
    await promoteVersion(connection, version, { namespace, to: 'current' });
    logger.info({ version }, 'worker version is current');
  } finally {
    await connection.close();
  }
}

export async function startApiService(
  config: Config,
  endpoints: Endpoints,
  logger: Logger,
  keys: BootstrapKey[],
): Promise<RunningService & { url: string; server: ServerType }> {
  const pool = createPool({ connectionString: endpoints.databaseUrl, applicationName: 'crm-api' });
  // Configured keys are users before the first request is answered; a user without a team joins
  // the lead team, so a deployment configured with an agent key has someone to give leads to.
  await bootstrapUsers(
    pool,
    keys.map((k) => ({ team: config.acquisition.leadTeam, ...k })),
  );
  const keyring = keyringFromConfig(config.codec);
  const temporal = await connectClient(endpoints.temporalAddress, config.temporal.namespace, createDataConverter(keyring), temporalTls(config.temporal.tls));
  let pageTokenSecret = pageTokenSecretOf(config);
  if (!pageTokenSecret) {
    // loadConfig refuses this outside development and test; here tokens last as long as this process.
    logger.warn('PAGE_TOKEN_SECRET is not set: page tokens are sealed with a secret of this process only');
    pageTokenSecret = randomBytes(32).toString('base64url');
  }
  const deps = {
    pool,
    temporal,
    taskQueue: config.temporal.taskQueue,
    logger,
    keys,
    pageTokenSecret,
    rateLimits: config.api.rateLimits,
    payloadCodec: new AesGcmPayloadCodec(keyring),
    codecAccess: { namespace: config.temporal.namespace, uiOrigin: config.codec.uiOrigin, tokens: config.codec.tokens },
    retention: config.retention,
    idempotencyTtlMs: config.api.idempotencyTtlMs,
  };
  const app = createApi(deps);
  // Every API process purges; the DELETE is idempotent, so several instances do no harm.
  const purge = startIdempotencyPurge(idempotencyKeyStore(pool, config.api.idempotencyTtlMs), logger);
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.api.port, hostname: config.api.host }, () => resolve(s));
    s.once('error', reject);
  });
  const url = `http://localhost:${config.api.port}`;
  logger.info({ url }, 'API listening');
  // The local Temporal UI's codec: loopback only, whatever API_HOST says.
  let codecServer: ServerType | undefined;
  if (config.codec.localPort !== undefined) {
    const local = createLocalCodecApp(deps);
    codecServer = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: local.fetch, port: config.codec.localPort, hostname: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    logger.info({ url: `http://127.0.0.1:${config.codec.localPort}/codec` }, 'local codec listening');
  }
  return {
    url,
    server,
    async stop() {
      purge.stop();
      if (codecServer) await new Promise<void>((resolve) => codecServer.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await temporal.connection.close();
      await pool.end();
    },
  };
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits. */
export function onShutdown(stop: () => Promise<void>, logger?: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger?.info({ signal }, 'shutting down');
    stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger?.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
