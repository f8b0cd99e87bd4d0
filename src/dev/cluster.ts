/**
 * `npm run stack:cluster`: the production topology of docker-compose.yml on this machine, without
 * Docker. The full Temporal server (frontend, history, matching and worker services, each its own
 * process by default) on the embedded PostgreSQL with SQL visibility, its schemas set up and
 * updated with Temporal's SQL tool; the namespace with its retention and the project's search
 * attributes; two operational worker processes, two API processes on their own ports and the
 * analytics process on its own database, all configured through the same variables as compose.
 *
 * The first run builds the Temporal server, its SQL tool and the Temporal UI server with Go
 * (minutes, progress shown); later runs reuse them. Every child is supervised as `npm start` does
 * it (src/dev/stack.ts). What runs, with its process id, is written to CLUSTER_DATA_DIR/cluster.json
 * (the fault suite, test/faults, reads it).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { z } from 'zod';
import { hashKey } from '../auth/keys.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { bootstrapUsers } from '../api/bootstrap.js';
import { ensureDevPayloadKeys, formatKeyring } from '../codec/index.js';
import { CRM_SEARCH_ATTRIBUTES } from '../domain/search-attributes.js';
import { applyNamespaceRetention } from '../temporal.js';
import { writeWorkflowBundle } from '../worker/bundle.js';
import { DEV_TEAM, DEV_USERS, DEV_USER_NAMES, devKeyEntries, ensureDevKeys } from './dev-keys.js';
import { PROJECT_ROOT, TOOLS_DIR } from './paths.js';
import { startEmbeddedPostgres } from './postgres.js';
import { stopperFor } from './processes.js';
import { step, withHeartbeat } from './progress.js';
import { aborted, createStack, explain, requirePorts, spawnEntry, together, waitForHttp, type Child } from './stack.js';
import { goInstall, isExecutable, onPath } from './temporal-cli.js';

export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_TARGETS = [
  `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`,
  `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
];
/** The UI server the Temporal CLI embeds (same version as CLI v1.5.1's), with the UI's assets inside. */
export const UI_SERVER_TARGET = 'github.com/temporalio/ui-server/v2/cmd/server@v2.42.1';
/** `go list -deps` of the two server commands, standard library included; and of the UI server. */
const SERVER_PACKAGES = 1_400;
const UI_PACKAGES = 450;

export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** The script's own settings; everything else is the services' configuration (src/config.ts). */
const clusterEnv = z.object({
  CLUSTER_DATA_DIR: z.string().min(1).default('.data-cluster'),
  /**
   * Every port is this plus an offset (see clusterPorts); the default keeps clear of npm start's.
   * At most 32700: Temporal keeps membership ports in a smallint column.
   */
  CLUSTER_PORT_BASE: z.coerce
    .number()
    .int()
    .min(1024)
    .max(32_700, 'CLUSTER_PORT_BASE must be at most 32700 (Temporal stores membership ports as smallint)')
    .default(7400),
  /** `separate`: one process per Temporal service; `single`: one process running all four. */
  CLUSTER_TEMPORAL_PROCESSES: z.enum(['separate', 'single']).default('separate'),
  /** A directory holding `server` and `sql` (temporal-server, temporal-sql-tool) built elsewhere. */
  TEMPORAL_SERVER_BIN_DIR: z.string().min(1).optional(),
  /** `false`: no Temporal UI (nothing to build for it). */
  CLUSTER_UI: z.enum(['true', 'false']).default('true'),
});

export function clusterPorts(base: number) {
  return {
    postgres: base,
    frontend: base + 1,
    frontendHttp: base + 2,
    history: base + 3,
    matching: base + 4,
    worker: base + 5,
    membership: { frontend: base + 11, history: base + 12, matching: base + 13, worker: base + 14 } as Record<TemporalService, number>,
    ui: base + 20,
    apis: [base + 30, base + 31],
    analytics: base + 32,
  };
}

/** Written to CLUSTER_DATA_DIR/cluster.json: what runs where, for operators and the fault suite. */
export interface ClusterState {
  temporalAddress: string;
  databaseUrl: string;
  analyticsDatabaseUrl: string;
  apis: string[];
  analytics: string;
  ui?: string;
  mailbox: string;
  devKeysFile: string;
  pids: Record<string, number | undefined>;
}

const SERVER_BIN_DIR = path.join(TOOLS_DIR, 'temporal-server');
const UI_BIN_DIR = path.join(TOOLS_DIR, 'temporal-ui');

/** Builds (first run) or finds the Temporal server and its SQL tool. */
async function temporalServerBinaries(fromEnv: string | undefined, signal: AbortSignal): Promise<{ server: string; sql: string }> {
  const dir = fromEnv ?? SERVER_BIN_DIR;
  const bins = { server: path.join(dir, 'server'), sql: path.join(dir, 'sql') };
  if ((await isExecutable(bins.server)) && (await isExecutable(bins.sql))) return bins;
  if (fromEnv) throw new Error(`TEMPORAL_SERVER_BIN_DIR=${fromEnv} holds no executable server and sql`);
  const go = await onPath('go');
  if (!go)
    throw new Error(
      `Go is needed once to build the Temporal server: install Go, or build elsewhere and set TEMPORAL_SERVER_BIN_DIR (go install ${TEMPORAL_SERVER_TARGETS.join(' ')})`,
    );
  step(`Building the Temporal server and its SQL tool with Go (first run only, several minutes): go install ${TEMPORAL_SERVER_TARGETS.join(' ')}`);
  await mkdir(dir, { recursive: true });
  await goInstall(
    go,
    { ...process.env, GOBIN: dir, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' },
    { what: 'the Temporal server', targets: TEMPORAL_SERVER_TARGETS, packages: SERVER_PACKAGES },
    signal,
  );
  step(`Temporal server built: ${bins.server}`);
  return bins;
}

/** The Temporal UI server: built on the first run; undefined (with the reason said) when it cannot be. */
async function uiServerBinary(signal: AbortSignal): Promise<string | undefined> {
  const bin = path.join(UI_BIN_DIR, 'server');
  if (await isExecutable(bin)) return bin;
  const go = await onPath('go');
  if (!go) {
    step('No Temporal UI: Go is needed to build it once');
    return undefined;
  }
  step(`Building the Temporal UI server with Go (first run only): go install ${UI_SERVER_TARGET}`);
  await mkdir(UI_BIN_DIR, { recursive: true });
  try {
    await goInstall(
      go,
      { ...process.env, GOBIN: UI_BIN_DIR, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' },
      { what: 'the Temporal UI', targets: [UI_SERVER_TARGET], packages: UI_PACKAGES },
      signal,
    );
    return bin;
  } catch (err) {
    if (signal.aborted) throw err;
    step(`No Temporal UI: ${(err as Error).message}`);
    return undefined;
  }
}

function run(cmd: string, args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${what} failed (exit ${code}): ${out.trim().split('\n').slice(-3).join(' | ')}`)),
    );
  });
}

/**
 * Creates the schema-version tables once and brings each schema to the version this server needs,
 * with the schemas built into the SQL tool (postgresql/v12/temporal and …/visibility).
 */
async function setupSchemas(sqlTool: string, db: { host: string; port: string; user: string; password: string }): Promise<void> {
  for (const [database, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const common = ['--plugin', 'postgres12', '--ep', db.host, '-p', db.port, '-u', db.user, '--pw', db.password, '--db', database];
    // setup-schema -v 0.0 only creates the version tables (a no-op on a later run); update-schema
    // then applies whatever versions are missing.
    await run(sqlTool, [...common, 'setup-schema', '-v', '0.0'], `temporal-sql-tool setup-schema (${database})`);
    await run(sqlTool, [...common, 'update-schema', '--schema-name', schema], `temporal-sql-tool update-schema (${database})`);
  }
}

function serverConfig(ports: ReturnType<typeof clusterPorts>, db: { host: string; port: string; user: string; password: string }) {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${db.host}:${db.port}`,
      connectProtocol: 'tcp',
      user: db.user,
      password: db.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (service: TemporalService, grpcPort: number, extra: object = {}) => ({
    rpc: { grpcPort, membershipPort: ports.membership[service], bindOnLocalHost: true, ...extra },
  });
  const frontend = `127.0.0.1:${ports.frontend}`;
  // JSON is YAML: the server reads this file as its config.
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: 4,
      datastores: { default: store('temporal', 10), visibility: store('temporal_visibility', 4) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: rpc('frontend', ports.frontend, { httpPort: ports.frontendHttp }),
      history: rpc('history', ports.history),
      matching: rpc('matching', ports.matching),
      worker: rpc('worker', ports.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontend } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    publicClient: { hostPort: frontend },
    // The same dynamic config as docker-compose (search-attribute cache read through, id length).
    dynamicConfigClient: { filepath: path.join(PROJECT_ROOT, 'deploy/temporal/dynamicconfig.yaml'), pollInterval: '10s' },
  };
}

function spawnTemporal(bin: string, root: string, services: readonly TemporalService[], logFile: string): Child {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const args = ['--root', root, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start', ...services.flatMap((s) => ['--service', s])];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
  child.once('error', (err) => out.write(`cannot run ${bin}: ${err.message}\n`));
  return { exited, pid: child.pid, stop: stopperFor(child) };
}

/** temporal.api.enums.v1.IndexedValueType, by the SDK's names of the types. */
const INDEXED_VALUE_TYPE: Record<string, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };

type RetentionPeriod = NonNullable<Parameters<Connection['workflowService']['registerNamespace']>[0]['workflowExecutionRetentionPeriod']>;

/** The namespace with TEMPORAL_RETENTION and the search attributes, once the frontend answers. */
async function setupNamespace(address: string, namespace: string, retentionMs: number, timeoutMs: number, died: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const death = died();
    if (death) throw new Error(death);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      // protobufjs writes a plain number into an int64 field (as applyNamespaceRetention does).
      const ttl = { seconds: Math.floor(retentionMs / 1000) } as unknown as RetentionPeriod;
      try {
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: ttl });
        step(`  namespace ${namespace} registered`);
      } catch (err) {
        if ((err as { code?: number }).code !== 6) throw err; // ALREADY_EXISTS
        await applyNamespaceRetention(connection, namespace, retentionMs);
      }
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = CRM_SEARCH_ATTRIBUTES.filter((k) => !customAttributes?.[k.name]);
      if (missing.length) {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]!])),
        });
        step(`  search attributes added: ${missing.map((k) => k.name).join(', ')}`);
      }
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  throw new Error(`the Temporal frontend at ${address} did not accept the namespace within ${timeoutMs / 1000}s: ${(last as Error)?.message ?? last}`);
}

async function main() {
  const stack = createStack('Cluster start failed');
  try {
    await start(stack);
  } catch (err) {
    await stack.fail(err);
  }
}

async function start(stack: ReturnType<typeof createStack>) {
  const opts = clusterEnv.parse(process.env);
  const dataDir = path.resolve(opts.CLUSTER_DATA_DIR);
  // The services' settings as they would read them, DATA_DIR aside: the cluster has its own.
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir });
  const logger = createLogger(config.logLevel, 'crm-cluster');
  const ports = clusterPorts(opts.CLUSTER_PORT_BASE);
  const logs = path.join(dataDir, 'logs');
  const ui = opts.CLUSTER_UI === 'true';
  step(`CRM process engine: starting the cluster topology (data in ${path.relative(process.cwd(), dataDir) || '.'}, ports from ${ports.postgres})`);
  await requirePorts(
    [
      { port: ports.postgres, what: 'PostgreSQL' },
      { port: ports.frontend, what: 'the Temporal frontend' },
      { port: ports.frontendHttp, what: 'the Temporal frontend (HTTP)' },
      { port: ports.history, what: 'the Temporal history service' },
      { port: ports.matching, what: 'the Temporal matching service' },
      { port: ports.worker, what: 'the Temporal worker service' },
      ...TEMPORAL_SERVICES.map((s) => ({ port: ports.membership[s], what: `the ${s} service's membership` })),
      ...(ui ? [{ port: ports.ui, what: 'the Temporal UI' }] : []),
      ...ports.apis.map((port, i) => ({ port, what: `API ${i + 1}` })),
      { port: ports.analytics, what: 'the analytics API' },
    ].map((p) => ({ ...p, variable: 'CLUSTER_PORT_BASE' })),
    'another `npm run stack:cluster`?',
  );

  const payloadKeys = config.codec.keys ? undefined : await ensureDevPayloadKeys(dataDir);
  const PAYLOAD_KEYS = config.codec.keys ?? formatKeyring(payloadKeys!.keyring);
  const PAYLOAD_KEY_ID = config.codec.activeKeyId ?? payloadKeys?.keyring.activeKeyId ?? '';
  const devKeys = await ensureDevKeys(dataDir);
  const keyEntries = [...devKeyEntries(devKeys.keys)];
  const apiKeys = JSON.stringify([...config.api.keys, ...keyEntries.map((k) => ({ role: k.role, actor: k.actor, sha256: k.sha256 }))]);
  const analyticsKeys = JSON.stringify([...config.analytics.keys, { actor: 'dev-analyst', sha256: hashKey(devKeys.keys.analyst) }]);
  const pids: Record<string, number | undefined> = {};
  const abort = new AbortController();

  const binaries = (async () => {
    const server = await temporalServerBinaries(opts.TEMPORAL_SERVER_BIN_DIR, abort.signal);
    aborted(abort.signal);
    const uiBin = ui ? await uiServerBinary(abort.signal) : undefined;
    return { ...server, ui: uiBin };
  })();

  const database = (async () => {
    step('Starting PostgreSQL');
    const pgOptions = {
      dataDir: path.join(dataDir, 'pg'),
      port: ports.postgres,
      binDir: config.database.embeddedBinDir,
      logFile: path.join(logs, 'postgres.log'),
      onStep: (line: string) => step(`  ${line}`),
      // Four Temporal services' pools, two workers', two APIs' and analytics'.
      settings: { max_connections: '300' },
    };
    const pg = await startEmbeddedPostgres(pgOptions).catch(explain('PostgreSQL did not start', `See ${pgOptions.logFile}.`));
    pids.postgres = pg.pid;
    stack.supervise(
      'PostgreSQL',
      pg,
      async () => {
        const again = await startEmbeddedPostgres(pgOptions);
        pids.postgres = again.pid;
        await writeState();
        return again;
      },
      { essential: true, log: pgOptions.logFile },
    );
    for (const name of ['crm', 'crm_analytics', 'temporal', 'temporal_visibility']) await pg.ensureDatabase(name);
    step(`PostgreSQL ready on port ${pg.port} (databases crm, crm_analytics, temporal, temporal_visibility)`);
    const applied = await migrate({ connectionString: pg.url('crm') }).catch(
      explain('the database could not be migrated', 'Fix that migration in src/db/migrations.'),
    );
    step(applied.length ? `Migrations applied: ${applied.join(', ')}` : 'Database schema is up to date');
    // The development users, as `npm start` has them (the API bootstraps only role and actor).
    const pool = createPool({ connectionString: pg.url('crm'), applicationName: 'crm-cluster' });
    try {
      await bootstrapUsers(pool, keyEntries);
    } finally {
      await pool.end();
    }
    return pg;
  })();

  const bundleFile = path.join(dataDir, 'workflow-bundle.js');
  const bundle = (async () => {
    step('Bundling workflows (once for both workers)');
    await withHeartbeat(writeWorkflowBundle(bundleFile), 'bundling workflows');
    step('Workflows bundled');
  })();

  const [bins, pg] = await together(abort, [binaries, database, bundle] as const);

  const url = new URL(pg.url('temporal'));
  const db = { host: url.hostname, port: url.port, user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  step('Setting up the Temporal schemas with temporal-sql-tool');
  await setupSchemas(bins.sql, db).catch(explain('the Temporal schemas could not be set up', `See the message; the databases are on port ${ports.postgres}.`));

  const root = path.join(dataDir, 'temporal');
  await mkdir(path.join(root, 'config'), { recursive: true });
  await writeFile(path.join(root, 'config', 'cluster.yaml'), JSON.stringify(serverConfig(ports, db), null, 2));
  let temporalDeath: string | undefined;
  const groups: Array<readonly TemporalService[]> = opts.CLUSTER_TEMPORAL_PROCESSES === 'single' ? [TEMPORAL_SERVICES] : TEMPORAL_SERVICES.map((s) => [s]);
  for (const services of groups) {
    const name = services.length === 1 ? `Temporal ${services[0]}` : 'Temporal server';
    const key = services.length === 1 ? `temporal-${services[0]}` : 'temporal';
    const logFile = path.join(logs, `${key}.log`);
    const child = spawnTemporal(bins.server, root, services, logFile);
    pids[key] = child.pid;
    void child.exited.then((how) => (temporalDeath ??= `${name} exited during start-up (${how}); see ${logFile}`));
    stack.supervise(
      name,
      child,
      async () => {
        const again = spawnTemporal(bins.server, root, services, logFile);
        pids[key] = again.pid;
        await writeState();
        return again;
      },
      { essential: true, log: logFile },
    );
  }
  const temporalAddress = `127.0.0.1:${ports.frontend}`;
  step(
    `Temporal ${groups.length === 1 ? 'server (all four services in one process)' : 'services started (frontend, history, matching, worker)'}; waiting for the frontend at ${temporalAddress}`,
  );
  await setupNamespace(temporalAddress, config.temporal.namespace, config.temporal.retentionMs, 180_000, () => temporalDeath);
  step(`Temporal ready at ${temporalAddress} (namespace ${config.temporal.namespace}, SQL visibility on PostgreSQL)`);

  let uiUrl: string | undefined;
  const apiUrls = ports.apis.map((p) => `http://localhost:${p}`);
  if (bins.ui) {
    const uiRoot = path.join(dataDir, 'ui');
    await mkdir(path.join(uiRoot, 'config'), { recursive: true });
    await writeFile(path.join(uiRoot, 'config', 'base.yaml'), '{}\n');
    await writeFile(
      path.join(uiRoot, 'config', 'cluster.yaml'),
      JSON.stringify({
        temporalGrpcAddress: temporalAddress,
        host: '127.0.0.1',
        port: ports.ui,
        enableUi: true,
        defaultNamespace: config.temporal.namespace,
        // Payloads are encrypted: the UI decodes them through API 1's codec endpoint with the admin's dev key.
        codec: { endpoint: `${apiUrls[0]}/codec/key/${devKeys.keys.admin}` },
        cors: { allowOrigins: [`http://localhost:${ports.ui}`] },
      }),
    );
    const spawnUi = (): Child => {
      const logFile = path.join(logs, 'ui.log');
      const out = createWriteStream(logFile, { flags: 'a' });
      const child = spawn(bins.ui!, ['--root', uiRoot, '--config', 'config', '--env', 'cluster', 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pipe(out);
      child.stderr.pipe(out);
      pids.ui = child.pid;
      const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
      return { exited, pid: child.pid, stop: stopperFor(child) };
    };
    stack.supervise('Temporal UI', spawnUi(), async () => spawnUi(), { essential: false, log: path.join(logs, 'ui.log') });
    uiUrl = `http://localhost:${ports.ui}`;
  }

  // The services, configured as in docker-compose.yml.
  const engineEnv = {
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    DATABASE_URL: pg.url('crm'),
    PAYLOAD_KEYS,
    PAYLOAD_KEY_ID,
    DATA_DIR: dataDir,
    LOG_LEVEL: config.logLevel,
  };
  const mailbox = path.resolve(config.mail.mailboxDir);
  const service = (name: string, key: string, script: string, env: NodeJS.ProcessEnv, healthUrl?: string) => {
    const spawnIt = () => {
      const child = spawnEntry(script, env, (err) => logger.error({ err }, `${name} failed to start`));
      pids[key] = child.pid;
      return child;
    };
    const first = spawnIt();
    stack.supervise(
      name,
      first,
      async () => {
        const again = spawnIt();
        if (healthUrl) await waitForHttp(healthUrl, () => again.running(), 60_000);
        await writeState();
        return again;
      },
      { essential: false, log: 'the lines above' },
    );
    return first;
  };
  const state = (): ClusterState => ({
    temporalAddress,
    databaseUrl: pg.url('crm'),
    analyticsDatabaseUrl: pg.url('crm_analytics'),
    apis: apiUrls,
    analytics: `http://localhost:${ports.analytics}`,
    ui: uiUrl,
    mailbox,
    devKeysFile: devKeys.file,
    pids,
  });
  const writeState = () => writeFile(path.join(dataDir, 'cluster.json'), JSON.stringify(state(), null, 2) + '\n');

  step('Starting two operational workers, two API processes and analytics');
  for (const i of [1, 2]) {
    service(`worker ${i}`, `worker-${i}`, 'src/worker/main.ts', {
      ...engineEnv,
      MAIL_TRANSPORT: 'file',
      MAILBOX_DIR: mailbox,
      WORKFLOW_BUNDLE_PATH: bundleFile,
    });
  }
  const apis = ports.apis.map((port, i) =>
    service(
      `API ${i + 1}`,
      `api-${i + 1}`,
      'src/api/main.ts',
      {
        ...engineEnv,
        API_PORT: String(port),
        API_KEYS: apiKeys,
        PUBLIC_BASE_URL: apiUrls[i],
        ...(uiUrl ? { TEMPORAL_UI_URL: uiUrl, CODEC_CORS_ORIGINS: uiUrl } : {}),
      },
      `${apiUrls[i]}/healthz`,
    ),
  );
  const analytics = service(
    'analytics',
    'analytics',
    'src/analytics/main.ts',
    {
      LOG_LEVEL: config.logLevel,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
      ANALYTICS_DATABASE_URL: pg.url('crm_analytics'),
      ANALYTICS_TASK_QUEUE: config.analytics.taskQueue,
      ANALYTICS_PORT: String(ports.analytics),
      ANALYTICS_API_KEYS: analyticsKeys,
      ANALYTICS_INGEST_EVERY: config.analytics.ingestEvery,
    },
    `http://localhost:${ports.analytics}/healthz`,
  );
  for (const [i, api] of apis.entries()) {
    if (!(await waitForHttp(`${apiUrls[i]}/readyz`, () => api.running(), 180_000))) throw new Error(`API ${i + 1} did not become ready (see the lines above)`);
  }
  const analyticsUp = await waitForHttp(`http://localhost:${ports.analytics}/healthz`, () => analytics.running(), 120_000);
  await writeState();

  const lines = [
    '',
    'The CRM process engine is running in the cluster topology:',
    ...apiUrls.map((u, i) => `  API ${i + 1}           ${u}   (reference: ${u}/docs)`),
    `  Temporal UI     ${uiUrl ?? 'not running (see above)'}`,
    `  Analytics       ${analyticsUp ? `http://localhost:${ports.analytics}/#key=${devKeys.keys.analyst}` : 'not running (see the lines above)'}`,
    `  Temporal        ${temporalAddress}   (${groups.length === 1 ? 'one process, four services' : 'frontend, history, matching, worker: four processes'}; PostgreSQL SQL visibility)`,
    `  PostgreSQL      127.0.0.1:${ports.postgres}   (crm, crm_analytics, temporal, temporal_visibility)`,
    `  Workers         2 processes on task queue ${config.temporal.taskQueue}`,
    `  Mailbox         ${mailbox}`,
    `  Logs            ${logs}   (what runs: ${path.join(dataDir, 'cluster.json')})`,
    `  Users and keys  team ${DEV_TEAM}; keys in ${devKeys.file}`,
    ...DEV_USER_NAMES.map((n) => `    ${n.padEnd(11)} ${DEV_USERS[n].role.padEnd(11)} ${devKeys.keys[n]}`),
    '',
    'Press Ctrl-C to stop everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  stack.markRunning();
}

void main();
