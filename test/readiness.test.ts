import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { createApi } from '../src/api/app.js';
import { createAnalyticsApi } from '../src/analytics/api/app.js';
import { hashKey } from '../src/auth/keys.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../src/dev/postgres.js';
import { freePort } from '../src/dev/ports.js';
import { freezeTree } from './faults/support.js';

// This file stops PostgreSQL, so it runs its own instance rather than the shared one.
let dir: string;
let pg: EmbeddedPg;
let pool: Pool;
let connection: Connection;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crm-ready-'));
  await chmod(dir, 0o755);
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort(), fast: true });
  pool = createPool({ connectionString: pg.url('postgres') });
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await pool?.end();
  await connection?.close();
  await pg?.stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

it('answers 503 within seconds while PostgreSQL is frozen (SIGSTOP), on both APIs, and 200 again once it resumes', async () => {
  const temporal = new Client({ connection });
  const api = createApi({
    pool,
    temporal,
    taskQueue: 'unused',
    pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
    logger: createLogger('silent'),
    keys: [{ role: 'agent', actor: 'a', sha256: hashKey('k') }],
  });
  const analytics = createAnalyticsApi({ pool, temporal, logger: createLogger('silent'), keys: [], retentionMs: 86_400_000 });
  expect((await api.request('/readyz')).status).toBe(200);
  expect((await analytics.request('/readyz')).status).toBe(200);

  // A frozen server accepts nothing and answers nothing: without a timeout a probe would hang.
  const pids = freezeTree(pg.pid!);
  try {
    const started = Date.now();
    const [operational, analyst] = await Promise.all([api.request('/readyz'), analytics.request('/readyz')]);
    const took = Date.now() - started;
    expect(operational.status).toBe(503);
    expect(analyst.status).toBe(503);
    expect(((await analyst.json()) as { checks: Record<string, string> }).checks).toEqual({ store: 'unavailable', temporal: 'ok' });
    expect(took).toBeLessThan(10_000);
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
  await expect.poll(async () => (await analytics.request('/readyz')).status, { timeout: 15_000, interval: 250 }).toBe(200);
  await expect.poll(async () => (await api.request('/readyz')).status, { timeout: 15_000, interval: 250 }).toBe(200);
}, 60_000);

it('is ready while PostgreSQL and Temporal answer, answers 503 while PostgreSQL is stopped, and stays alive', async () => {
  const api = createApi({
    pool,
    temporal: new Client({ connection }),
    taskQueue: 'unused',
    pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
    logger: createLogger('silent'),
    keys: [{ role: 'agent', actor: 'a', sha256: hashKey('k') }],
  });
  const ready = await api.request('/readyz');
  expect(ready.status).toBe(200);

  await pg.stop();
  const notReady = await api.request('/readyz');
  expect(notReady.status).toBe(503);
  const body = (await notReady.json()) as { checks: Record<string, string> };
  expect(body.checks.temporal).toBe('ok');
  // Which dependency is down, never why: no host, port, error code or driver text.
  expect(body.checks.postgres).toBe('unavailable');
  expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|\d{4,5}|127\.0\.0\.1|connect|terminat/i);
  // The analytics API says as little.
  const analytics = createAnalyticsApi({ pool, temporal: new Client({ connection }), logger: createLogger('silent'), keys: [], retentionMs: 86_400_000 });
  const analyticsReady = await analytics.request('/readyz');
  expect(analyticsReady.status).toBe(503);
  const analyticsBody = (await analyticsReady.json()) as { checks: Record<string, string> };
  expect(analyticsBody.checks).toEqual({ store: 'unavailable', temporal: 'ok' });
  expect(JSON.stringify(analyticsBody)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|connect|terminat/i);
  expect((await api.request('/healthz')).status).toBe(200);

  // A request needing the database is a 503 to repeat (not a 500: no fault of the code), with
  // the request id to quote and no internals.
  const outage = await api.request('/v1/customers/00000000-0000-4000-8000-000000000000', { headers: { authorization: 'Bearer k' } });
  expect(outage.status).toBe(503);
  expect(outage.headers.get('content-type')).toContain('application/problem+json');
  expect(outage.headers.get('retry-after')).toBe('5');
  const problem = (await outage.json()) as { requestId: string; detail: string };
  expect(problem.requestId).toBe(outage.headers.get('x-request-id'));
  expect(problem.detail).toMatch(/database is unavailable/);
  expect(problem.detail).not.toMatch(/ECONNREFUSED|5432|stack|127\.0\.0\.1/i);
  // The analytics API too.
  const analyst = createAnalyticsApi({
    pool,
    temporal: new Client({ connection }),
    logger: createLogger('silent'),
    keys: [{ actor: 'analyst', sha256: hashKey('a') }],
    retentionMs: 86_400_000,
  });
  const report = await analyst.request('/v1/analytics/processes', { headers: { authorization: 'Bearer a' } });
  expect(report.status).toBe(503);
  expect(report.headers.get('retry-after')).toBe('5');
});
