/**
 * `npm start`: the whole stack on embedded defaults. Temporal dev server (with its Web UI) and
 * PostgreSQL run as child processes with their data under .data/; migrations run; the
 * operational worker and the API run in this process; analytics runs as its own process.
 * Ctrl-C stops everything. DATABASE_URL, ANALYTICS_DATABASE_URL and TEMPORAL_ADDRESS point it at
 * external services.
 *
 * On the first run the Temporal CLI is built with Go (minutes); PostgreSQL, the migrations and
 * the workflow bundle are made meanwhile. Any failure stops whatever was already started and
 * ends with one line that names the cause and what to do, and a non-zero exit. Once running,
 * a Temporal server, PostgreSQL or analytics process that dies is said so and restarted.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { hashKey } from '../auth/keys.js';
import { loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { migrate } from '../db/migrate.js';
import { startApiService, startWorkerService } from '../services.js';
import { buildWorkflowBundle } from '../worker/bundle.js';
import { DEV_TEAM, DEV_USERS, DEV_USER_NAMES, ensureDevKeys, devKeyEntries } from './dev-keys.js';
import { ensureDevPayloadKeys, formatKeyring } from '../codec/index.js';
import { aborted, createStack, explain, requirePorts, spawnEntry, together, waitForHttp, type Child } from './stack.js';
import { startEmbeddedPostgres } from './postgres.js';
import { step, withHeartbeat } from './progress.js';
import { resolveTemporalCli } from './temporal-cli.js';
import { startDevServer } from './temporal-server.js';

const stack = createStack('Start failed');
const { fail } = stack;

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new Error(`${(err as Error).message.replace(/\n\s*/g, ' ')} (fix the environment variable named)`, { cause: err });
  }
  const dataDir = path.resolve(config.dataDir);
  const logger = createLogger(config.logLevel, 'crm');
  step(`CRM process engine: starting the embedded stack (data in ${path.relative(process.cwd(), dataDir) || '.'})`);

  const embeddedTemporal = !config.temporal.address;
  const embeddedPg = !config.database.url || !config.database.analyticsUrl;
  await requirePorts([
    ...(embeddedTemporal
      ? [
          { port: config.temporal.devPort, what: 'the Temporal dev server', variable: 'TEMPORAL_DEV_PORT' },
          { port: config.temporal.uiPort, what: 'the Temporal Web UI', variable: 'TEMPORAL_UI_PORT' },
        ]
      : []),
    ...(embeddedPg ? [{ port: config.database.embeddedPort, what: 'the embedded PostgreSQL', variable: 'EMBEDDED_PG_PORT' }] : []),
    { port: config.api.port, what: 'the API', variable: 'API_PORT' },
    ...(config.codec.localPort !== undefined ? [{ port: config.codec.localPort, what: 'the local codec listener', variable: 'CODEC_LOCAL_PORT' }] : []),
    { port: config.analytics.port, what: 'the analytics API', variable: 'ANALYTICS_PORT' },
  ]);

  // Payload encryption: configured keys, or in the embedded stack a development key made once.
  if (!config.codec.keys && config.devKeys) {
    const payloadKeys = await ensureDevPayloadKeys(dataDir);
    config.codec.keys = formatKeyring(payloadKeys.keyring);
    config.codec.activeKeyId = payloadKeys.keyring.activeKeyId;
    step(`Payload encryption key ${payloadKeys.keyring.activeKeyId} (${payloadKeys.file}${payloadKeys.created ? ', new' : ''})`);
  }
  const devKeys = config.devKeys ? await ensureDevKeys(dataDir) : undefined;
  // The local Web UI decodes payloads through the codec listener on 127.0.0.1, which needs no
  // credential: nothing secret is on the Temporal CLI's command line or in the UI's settings.
  const uiCodecEndpoint = config.codec.localPort !== undefined ? `http://127.0.0.1:${config.codec.localPort}/codec` : undefined;
  // Page tokens are sealed with a secret of this run unless one is configured.
  config.api.pageTokenSecret ??= randomBytes(32).toString('base64url');

  const abort = new AbortController();
  const logs = path.join(dataDir, 'logs');

  // Temporal: on the first run this builds the CLI with Go, which takes minutes; the database and
  // the workflow bundle are made meanwhile.
  const temporal = (async () => {
    if (!embeddedTemporal) {
      step(`Using the external Temporal at ${config.temporal.address}`);
      return { address: config.temporal.address!, uiUrl: config.temporal.uiUrl };
    }
    const cli = await resolveTemporalCli({ signal: abort.signal });
    aborted(abort.signal);
    step(`Starting the Temporal dev server (${cli.kind === 'binary' ? cli.path : 'SDK download'})`);
    const options = {
      cli,
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      dbFile: path.join(dataDir, 'temporal.db'),
      logFile: path.join(logs, 'temporal.log'),
      uiCodecEndpoint,
      retention: config.temporal.retentionMs,
    };
    const server = await startDevServer(options).catch(
      explain('the Temporal dev server did not start', `See ${options.logFile}; to start afresh, stop npm start and remove ${options.dbFile}.`),
    );
    stack.supervise('Temporal dev server', server, () => startDevServer(options), { essential: true, log: options.logFile });
    step(`Temporal ready at ${server.address}`);
    return { address: server.address, uiUrl: server.uiUrl };
  })();

  const database = (async () => {
    let databaseUrl = config.database.url;
    let analyticsDatabaseUrl = config.database.analyticsUrl;
    if (embeddedPg) {
      step('Starting the embedded PostgreSQL');
      const options = {
        dataDir: path.join(dataDir, 'pg'),
        port: config.database.embeddedPort,
        binDir: config.database.embeddedBinDir,
        logFile: path.join(logs, 'postgres.log'),
        onStep: (line: string) => step(`  ${line}`),
      };
      const pg = await startEmbeddedPostgres(options).catch(
        explain('the embedded PostgreSQL did not start', `See ${options.logFile}, or set DATABASE_URL and ANALYTICS_DATABASE_URL to a PostgreSQL server.`),
      );
      stack.supervise('PostgreSQL', pg, () => startEmbeddedPostgres(options), { essential: true, log: options.logFile });
      aborted(abort.signal);
      await pg.ensureDatabase('crm');
      await pg.ensureDatabase('crm_analytics');
      databaseUrl ??= pg.url('crm');
      analyticsDatabaseUrl ??= pg.url('crm_analytics');
      step(`PostgreSQL ready on port ${pg.port} (databases crm, crm_analytics)`);
    }
    const applied = await migrate({ connectionString: databaseUrl! }).catch(
      explain('the database could not be migrated', 'Fix that migration in src/db/migrations, or point DATABASE_URL at a database this version can migrate.'),
    );
    step(applied.length ? `Migrations applied: ${applied.join(', ')}` : 'Database schema is up to date');
    return { databaseUrl: databaseUrl!, analyticsDatabaseUrl: analyticsDatabaseUrl! };
  })();

  const bundle = (async () => {
    step('Bundling workflows');
    const code = await withHeartbeat(buildWorkflowBundle(), 'bundling workflows');
    step('Workflows bundled');
    return code;
  })();

  const [t, db, code] = await together(abort, [temporal, database, bundle] as const);

  const keys = [...config.api.keys, ...(devKeys ? devKeyEntries(devKeys.keys) : [])];
  const endpoints = { databaseUrl: db.databaseUrl, temporalAddress: t.address };
  const worker = await startWorkerService(config, endpoints, logger, code, 'current');
  stack.add('operational worker', worker.stop);
  step(
    `Operational worker polling task queue ${config.temporal.taskQueue}` +
      (worker.version ? `, current version ${worker.version.deploymentName}/${worker.version.buildId}` : ' (unversioned)'),
  );
  const api = await startApiService(config, endpoints, logger, keys);
  stack.add('API', api.stop);

  // Analytics: its own process with its own database and keys. The operational side never
  // waits for it: if it fails to start, everything else keeps running.
  const analyticsKeys = devKeys ? [{ actor: 'dev-analyst', sha256: hashKey(devKeys.keys.analyst) }] : config.analytics.keys;
  const analyticsUrl = await startAnalyticsProcess(config, db.analyticsDatabaseUrl, t.address, analyticsKeys, logger);

  const lines = [
    '',
    'The CRM process engine is running:',
    `  API             ${api.url}`,
    `  API reference   ${api.url}/docs   (OpenAPI: ${api.url}/openapi.json)`,
    `  Temporal UI     ${t.uiUrl ?? '(external: see your Temporal deployment)'}`,
    `  Analytics       ${analyticsUrl ? `${analyticsUrl}/${devKeys ? `#key=${devKeys.keys.analyst}` : ''}   (dashboard; reports under /v1/analytics)` : 'not running (see the log above)'}`,
    `  Temporal        ${t.address}`,
    `  Mailbox         ${config.mail.transport === 'file' ? path.resolve(config.mail.mailboxDir) : 'SMTP'}`,
    `  Logs            ${logs}`,
  ];
  if (devKeys) {
    lines.push(`  Users and keys  team ${DEV_TEAM}; keys in ${devKeys.file} ${devKeys.created ? '(new)' : ''}`);
    for (const name of DEV_USER_NAMES) {
      const user = DEV_USERS[name];
      lines.push(`    ${name.padEnd(11)} ${`${user.name} <${user.email}>`.padEnd(44)} ${user.role.padEnd(11)} ${devKeys.keys[name]}`);
    }
    lines.push(
      '',
      `Try: curl -X POST ${api.url}/v1/customers -H "Authorization: Bearer ${devKeys.keys.agent}" -H "Content-Type: application/json" -d '{"name":"Jane Doe","email":"jane@example.com"}'`,
    );
  }
  lines.push('', 'Press Ctrl-C to stop everything.', '');
  process.stdout.write(lines.join('\n') + '\n');
  stack.markRunning();
}

function spawnAnalytics(
  storeUrl: string,
  temporalAddress: string,
  keys: Array<{ actor: string; sha256: string }>,
  logger: Logger,
): Child & { running(): boolean } {
  return spawnEntry(
    'src/analytics/main.ts',
    { ANALYTICS_DATABASE_URL: storeUrl, TEMPORAL_ADDRESS: temporalAddress, ANALYTICS_API_KEYS: JSON.stringify(keys) },
    (err) => logger.error({ err }, 'analytics process failed to start'),
  );
}

async function startAnalyticsProcess(
  config: Config,
  storeUrl: string,
  temporalAddress: string,
  keys: Array<{ actor: string; sha256: string }>,
  logger: Logger,
): Promise<string | undefined> {
  step('Starting the analytics process');
  const child = spawnAnalytics(storeUrl, temporalAddress, keys, logger);
  stack.supervise('analytics', child, async () => spawnAnalytics(storeUrl, temporalAddress, keys, logger), {
    essential: false,
    log: 'the analytics lines above',
  });
  const url = `http://localhost:${config.analytics.port}`;
  if (await waitForHttp(`${url}/healthz`, () => child.running())) {
    step(`Analytics ready at ${url}`);
    return url;
  }
  step('Analytics did not start; the operational stack runs without it');
  return undefined;
}

main().catch(fail);
