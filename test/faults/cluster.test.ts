/**
 * The fault suite against the cluster topology (`npm run stack:cluster`): the Temporal server's
 * four services as separate processes on PostgreSQL, two workers, two APIs, analytics.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe } from 'vitest';
import type { ClusterState } from '../../src/dev/cluster.js';
import { PROJECT_ROOT } from '../../src/dev/paths.js';
import { isPortFree } from '../../src/dev/ports.js';
import { faultSuite } from './scenarios.js';
import { pidsWith, until, type Topology } from './support.js';

async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below 32700: Temporal keeps membership ports in a smallint column.
    const base = 20_000 + Math.floor(Math.random() * 120) * 100;
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => isPortFree(base + i)));
    if (all.every(Boolean)) return base;
  }
  throw new Error('no free range of 40 ports');
}

async function startCluster(): Promise<Topology> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-faults-cluster-'));
  const base = await freeBase();
  let out = '';
  const child = spawn(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(PROJECT_ROOT, 'src/dev/cluster.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CLUSTER_DATA_DIR: dir, CLUSTER_PORT_BASE: String(base), CLUSTER_UI: 'false', ANALYTICS_INGEST_EVERY: '10s', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const t0 = Date.now();
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`stack:cluster exited: ${out}`);
      return out.includes('is running in the cluster topology');
    },
    'the cluster did not come up',
    840_000,
    1_000,
  ).catch((err: Error) => {
    child.kill('SIGINT');
    throw new Error(`${err.message}\n${out}`);
  });
  process.stdout.write(`[faults] cluster up in ${((Date.now() - t0) / 1000).toFixed(0)} s (ports from ${base})\n`);
  const state = async () => JSON.parse(await readFile(path.join(dir, 'cluster.json'), 'utf8')) as ClusterState;
  let s = await state();
  const refresh = async () => (s = await state());
  const keys = JSON.parse(await readFile(s.devKeysFile, 'utf8')) as { agent: string };
  // cluster.json is rewritten on every restart: read before each use.
  const pids = () => {
    void refresh();
    return s.pids;
  };
  const pool = new pg.Pool({ connectionString: s.databaseUrl, max: 4 });
  const analyticsPool = new pg.Pool({ connectionString: s.analyticsDatabaseUrl, max: 2 });
  return {
    name: 'cluster',
    apis: s.apis,
    agentKey: keys.agent,
    pool,
    analyticsPool,
    analyticsUrl: s.analytics,
    mailbox: s.mailbox,
    workerPids: () => [pids()['worker-1']!, pids()['worker-2']!],
    temporalPids: () => pidsWith(path.join(dir, 'temporal')).filter((p) => pidsWith('--allow-no-auth').includes(p)),
    postgresPid: () => pids().postgres!,
    analyticsPid: () => pids().analytics!,
    apiPid: () => pids()['api-1']!,
    freezeForBurst: () => [pids()['worker-1']!, pids()['worker-2']!],
    async close() {
      await pool.end();
      await analyticsPool.end();
      child.kill('SIGINT');
      await exited;
      const outside = await readlink(path.join(dir, 'pg')).catch(() => undefined);
      if (outside) await rm(outside, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('faults: cluster topology', () => {
  faultSuite('cluster', startCluster);
});
