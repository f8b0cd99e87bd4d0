/**
 * `npm start`: the whole stack on embedded defaults. Temporal dev server (with its Web UI) and
 * PostgreSQL run as child processes with their data under .data/; migrations run; the
 * operational worker and the API run in this process. Ctrl-C stops everything.
 * DATABASE_URL, ANALYTICS_DATABASE_URL and TEMPORAL_ADDRESS point it at external services.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { hashKey } from '../auth/keys.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { migrate } from '../db/migrate.js';
import { onShutdown, startApiService, startWorkerService, type RunningService } from '../services.js';
import { buildWorkflowBundle } from '../worker/bundle.js';
import { ensureDevKeys, devKeyEntries } from './dev-keys.js';
import { ensureDevPayloadKeys, formatKeyring } from '../codec/index.js';
import { PROJECT_ROOT } from './paths.js';
import { stopperFor } from './processes.js';
import { isPortFree } from './ports.js';
import { startEmbeddedPostgres } from './postgres.js';
import { step, withHeartbeat } from './progress.js';
import { resolveTemporalCli } from './temporal-cli.js';
import { startDevServer } from './temporal-server.js';

const config = loadConfig();
const dataDir = path.resolve(config.dataDir);
const logger = createLogger(config.logLevel, 'crm');
const stack: Array<{ name: string; stop: () => Promise<void> }> = [];

async function stopAll(): Promise<void> {
  step('Stopping…');
  for (const s of stack.reverse()) {
    try {
      await s.stop();
      step(`  stopped ${s.name}`);
    } catch (err) {
      step(`  ${s.name} did not stop cleanly: ${(err as Error).message}`);
    }
  }
}
onShutdown(stopAll);

async function requirePort(port: number, what: string, variable: string): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new Error(`port ${port} for ${what} is in use (another \`npm start\`?). Stop it or set ${variable} to another port.`);
  }
}

async function main() {
  step(`CRM process engine: starting the embedded stack (data in ${path.relative(process.cwd(), dataDir) || '.'})`);

  // Payload encryption: configured keys, or in the embedded stack a development key made once.
  if (!config.codec.keys && config.devKeys) {
    const payloadKeys = await ensureDevPayloadKeys(dataDir);
    config.codec.keys = formatKeyring(payloadKeys.keyring);
    config.codec.activeKeyId = payloadKeys.keyring.activeKeyId;
    step(`Payload encryption key ${payloadKeys.keyring.activeKeyId} (${payloadKeys.file}${payloadKeys.created ? ', new' : ''})`);
  }
  // The local Web UI decodes payloads through the API's codec endpoint with the admin dev key.
  const uiCodecEndpoint = config.devKeys ? `http://localhost:${config.api.port}/codec/key/${(await ensureDevKeys(dataDir)).keys.admin}` : undefined;

  // Temporal
  let temporalAddress = config.temporal.address;
  let temporalUi = config.temporal.uiUrl;
  if (!temporalAddress) {
    const cli = await resolveTemporalCli();
    await requirePort(config.temporal.devPort, 'the Temporal dev server', 'TEMPORAL_DEV_PORT');
    await requirePort(config.temporal.uiPort, 'the Temporal Web UI', 'TEMPORAL_UI_PORT');
    step(`Starting the Temporal dev server (${cli.kind === 'binary' ? cli.path : 'SDK download'})`);
    const server = await startDevServer({
      cli,
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      dbFile: path.join(dataDir, 'temporal.db'),
      logFile: path.join(dataDir, 'logs', 'temporal.log'),
      uiCodecEndpoint,
    });
    stack.push({ name: 'Temporal dev server', stop: server.stop });
    temporalAddress = server.address;
    temporalUi = server.uiUrl;
    step(`Temporal ready at ${temporalAddress}`);
  } else {
    step(`Using the external Temporal at ${temporalAddress}`);
  }

  // PostgreSQL
  let databaseUrl = config.database.url;
  let analyticsDatabaseUrl = config.database.analyticsUrl;
  if (!databaseUrl || !analyticsDatabaseUrl) {
    await requirePort(config.database.embeddedPort, 'the embedded PostgreSQL', 'EMBEDDED_PG_PORT');
    step('Starting the embedded PostgreSQL');
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, 'pg'),
      port: config.database.embeddedPort,
      onLog: () => undefined,
    });
    stack.push({ name: 'PostgreSQL', stop: pg.stop });
    await pg.ensureDatabase('crm');
    await pg.ensureDatabase('crm_analytics');
    databaseUrl ??= pg.url('crm');
    analyticsDatabaseUrl ??= pg.url('crm_analytics');
    step(`PostgreSQL ready on port ${pg.port} (databases crm, crm_analytics)`);
  }

  const applied = await migrate({ connectionString: databaseUrl });
  step(applied.length ? `Migrations applied: ${applied.join(', ')}` : 'Database schema is up to date');

  const keys = [...config.api.keys];
  let devKeys: Awaited<ReturnType<typeof ensureDevKeys>> | undefined;
  if (config.devKeys) {
    devKeys = await ensureDevKeys(dataDir);
    keys.push(...devKeyEntries(devKeys.keys));
  }

  step('Bundling workflows');
  const bundle = await withHeartbeat(buildWorkflowBundle(), 'bundling workflows');
  const endpoints = { databaseUrl, temporalAddress };
  const worker: RunningService = await startWorkerService(config, endpoints, logger, bundle);
  stack.push({ name: 'operational worker', stop: worker.stop });
  step(`Operational worker polling task queue ${config.temporal.taskQueue}`);
  const api = await startApiService(config, endpoints, logger, keys);
  stack.push({ name: 'API', stop: api.stop });

  // Analytics: its own process with its own database and keys. The operational side never
  // waits for it: if it fails to start, everything else keeps running.
  const analyticsKeys = devKeys ? [{ actor: 'dev-analyst', sha256: hashKey(devKeys.keys.analyst) }] : config.analytics.keys;
  const analyticsUrl = await startAnalyticsProcess(analyticsDatabaseUrl, temporalAddress, analyticsKeys);

  const lines = [
    '',
    'The CRM process engine is running:',
    `  API             ${api.url}`,
    `  API reference   ${api.url}/docs   (OpenAPI: ${api.url}/openapi.json)`,
    `  Temporal UI     ${temporalUi ?? '(external: see your Temporal deployment)'}`,
    `  Analytics       ${analyticsUrl ? `${analyticsUrl}/${devKeys ? `#key=${devKeys.keys.analyst}` : ''}   (dashboard; reports under /v1/analytics)` : 'not running (see the log above)'}`,
    `  Temporal        ${temporalAddress}`,
    `  Mailbox         ${config.mail.transport === 'file' ? path.resolve(config.mail.mailboxDir) : 'SMTP'}`,
  ];
  if (devKeys) {
    lines.push(`  API keys        ${devKeys.file} ${devKeys.created ? '(new)' : ''}`);
    for (const [role, key] of Object.entries(devKeys.keys)) lines.push(`    ${role.padEnd(11)} ${key}`);
    lines.push('', `Try: curl -X POST ${api.url}/v1/customers -H "Authorization: Bearer ${devKeys.keys.agent}" -H "Content-Type: application/json" -d '{"name":"Jane Doe","email":"jane@example.com"}'`);
  }
  lines.push('', 'Press Ctrl-C to stop everything.', '');
  process.stdout.write(lines.join('\n') + '\n');
}

async function startAnalyticsProcess(storeUrl: string, temporalAddress: string, keys: Array<{ actor: string; sha256: string }>): Promise<string | undefined> {
  step('Starting the analytics process');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/analytics/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ANALYTICS_DATABASE_URL: storeUrl, TEMPORAL_ADDRESS: temporalAddress, ANALYTICS_API_KEYS: JSON.stringify(keys) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  stack.push({ name: 'analytics', stop: stopperFor(child) });
  const url = `http://localhost:${config.analytics.port}`;
  for (let i = 0; i < 120 && child.exitCode === null; i++) {
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) {
      step(`Analytics ready at ${url}`);
      return url;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  step('Analytics did not start; the operational stack runs without it');
  return undefined;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`\nStart failed: ${(err as Error).message}\n`);
  await stopAll();
  process.exit(1);
});
