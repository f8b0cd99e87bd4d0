/**
 * The fault suite against the embedded topology: `npm start` (Temporal dev server and PostgreSQL
 * as supervised children, worker and API in its own process, analytics as a child), plus one more
 * worker process and one more API process on the same Temporal and PostgreSQL, so that a worker
 * and an API can die while another carries on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe } from 'vitest';
import { ensureDevPayloadKeys, formatKeyring } from '../../src/codec/index.js';
import { devKeyEntries, type DevKeys } from '../../src/dev/dev-keys.js';
import { PROJECT_ROOT } from '../../src/dev/paths.js';
import { freePort } from '../../src/dev/ports.js';
import { faultSuite } from './scenarios.js';
import { pidsWith, until, type Topology } from './support.js';

function node(script: string, env: NodeJS.ProcessEnv, log: (s: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => log(b.toString()));
  child.stderr!.on('data', (b: Buffer) => log(b.toString()));
  return child;
}

async function startEmbedded(): Promise<Topology> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-faults-embedded-'));
  const dataDir = path.join(dir, '.data');
  const ports = {
    TEMPORAL_DEV_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    ANALYTICS_PORT: String(await freePort()),
  };
  let out = '';
  const log = (s: string) => (out = (out + s).slice(-20_000));
  const stack = spawn(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(PROJECT_ROOT, 'src/dev/start.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...ports, DATA_DIR: dataDir, ANALYTICS_INGEST_EVERY: '10s', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stack.stdout.on('data', (b: Buffer) => log(b.toString()));
  stack.stderr.on('data', (b: Buffer) => log(b.toString()));
  const exited = new Promise<void>((resolve) => stack.once('exit', () => resolve()));
  const t0 = Date.now();
  await until(
    async () => {
      if (stack.exitCode !== null) throw new Error('npm start exited');
      return out.includes('The CRM process engine is running');
    },
    'npm start did not come up',
    600_000,
    1_000,
  ).catch((err: Error) => {
    stack.kill('SIGINT');
    throw new Error(`${err.message}\n${out}`);
  });
  process.stdout.write(`[faults] embedded stack up in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);

  const keys = JSON.parse(await readFile(path.join(dataDir, 'dev-keys.json'), 'utf8')) as DevKeys;
  const payload = await ensureDevPayloadKeys(dataDir);
  const databaseUrl = `postgres://crm:crm@127.0.0.1:${ports.EMBEDDED_PG_PORT}/crm`;
  const common = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.TEMPORAL_DEV_PORT}`,
    PAYLOAD_KEYS: formatKeyring(payload.keyring),
    PAYLOAD_KEY_ID: payload.keyring.activeKeyId,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  // One more worker and one more API beside npm start's own.
  const worker = node('src/worker/main.ts', common, log);
  const apiPort = String(await freePort());
  const api = node(
    'src/api/main.ts',
    { ...common, API_PORT: apiPort, API_KEYS: JSON.stringify(devKeyEntries(keys).map((k) => ({ role: k.role, actor: k.actor, sha256: k.sha256 }))) },
    log,
  );
  const extraApi = `http://localhost:${apiPort}`;
  try {
    await until(
      async () => {
        if (api.exitCode !== null || api.signalCode !== null) throw new Error(`the extra API exited (${api.exitCode ?? api.signalCode})`);
        return (await fetch(`${extraApi}/readyz`).catch(() => undefined))?.status === 200;
      },
      'the extra API did not get ready',
      180_000,
    );
    await until(async () => pidsWith('src/worker/main.ts', `TEMPORAL_ADDRESS=${common.TEMPORAL_ADDRESS}`).length > 0, 'the extra worker did not start', 60_000);
    await new Promise((r) => setTimeout(r, 10_000)); // the extra worker's bundle and pollers
  } catch (err) {
    // Nothing of this topology may outlive a failed start (its ports and codec listener would
    // stop the next `npm start`), and the output says why it failed.
    for (const c of [worker, api]) c.kill('SIGTERM');
    stack.kill('SIGINT');
    await exited;
    const outside = await readlink(path.join(dataDir, 'pg')).catch(() => undefined);
    if (outside) await rm(outside, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${out.slice(-8_000)}`, { cause: err });
  }

  const clusterDir = await readlink(path.join(dataDir, 'pg')).catch(() => path.join(dataDir, 'pg'));
  const startPids = () => pidsWith('src/dev/start.ts', `API_PORT=${ports.API_PORT}`);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const analyticsPool = new pg.Pool({ connectionString: `postgres://crm:crm@127.0.0.1:${ports.EMBEDDED_PG_PORT}/crm_analytics`, max: 2 });
  return {
    name: 'embedded',
    // The extra API first: the API fault kills it and clients move on to npm start's.
    apis: [extraApi, `http://localhost:${ports.API_PORT}`],
    agentKey: keys.agent,
    pool,
    analyticsPool,
    analyticsUrl: `http://localhost:${ports.ANALYTICS_PORT}`,
    mailbox: path.join(dataDir, 'mailbox'),
    // npm start's own worker runs in its process: the extra worker is the one that dies.
    workerPids: () => [worker.pid!],
    temporalPids: () => pidsWith(path.join(dataDir, 'temporal.db')),
    postgresPid: () => pidsWith(`-D ${clusterDir}`)[0]!,
    analyticsPid: () => pidsWith('src/analytics/main.ts', `ANALYTICS_PORT=${ports.ANALYTICS_PORT}`).at(-1)!,
    apiPid: () => api.pid!,
    freezeForBurst: () => [worker.pid!, ...startPids()],
    async close() {
      await pool.end();
      await analyticsPool.end();
      for (const c of [worker, api]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      stack.kill('SIGINT');
      await exited;
      if (clusterDir !== path.join(dataDir, 'pg')) await rm(clusterDir, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('faults: embedded topology', () => {
  faultSuite('embedded', startEmbedded);
});
