/**
 * The analytics HTTP API (port 3001): reports and the dashboard, behind its own analyst keys.
 * It reads only the analytics store; the operational system never calls it.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { requestId } from 'hono/request-id';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { bearerToken, createKeyVerifier } from '../../auth/keys.js';
import type { Logger } from '../../logger.js';
import { campaignsReport, changesReport, funnelReport, ingestStatus, processesReport, type Range } from '../reports.js';
import type { StorePool } from '../store.js';
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.js';

export interface AnalyticsApiDeps {
  pool: StorePool;
  temporal: Client;
  logger: Logger;
  keys: Array<{ actor: string; sha256: string }>;
}

type Env = { Variables: { requestId: string; actor: string } };

const require = createRequire(import.meta.url);
const CHART_JS = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');

function problem(c: Context<Env>, status: 400 | 401 | 404 | 500 | 503, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const titles = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };
  return c.body(JSON.stringify({ type: 'about:blank', title: titles[status], status, detail, instance: c.req.path, requestId: c.get('requestId'), ...extra }), status, {
    'Content-Type': 'application/problem+json',
    ...headers,
  });
}

const DAY = 86_400_000;
const rangeSchema = z
  .object({
    from: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
    to: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
    groupBy: z.enum(['day', 'week']).default('day'),
  })
  .strict()
  .transform((q, ctx): Range => {
    const to = q.to ? new Date(q.to) : new Date(Date.now() + 60_000);
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * DAY);
    if (from >= to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
    if (to.getTime() - from.getTime() > 366 * DAY) ctx.addIssue({ code: 'custom', path: ['to'], message: 'a range spans at most 366 days' });
    return { from, to, groupBy: q.groupBy };
  });

export function createAnalyticsApi(deps: AnalyticsApiDeps) {
  const app = new Hono<Env>();
  const verify = createKeyVerifier(deps.keys.map((k) => ({ ...k, role: 'analyst' as const })));

  app.use('*', requestId({ headerName: 'X-Request-Id' }));
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    deps.logger.info({ requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - t0) }, 'request');
  });
  app.onError((err, c) => {
    deps.logger.error({ requestId: c.get('requestId'), err: { type: err.name, message: err.message, stack: err.stack } }, 'unhandled error');
    return problem(c, 500, 'An unexpected error occurred; quote the request id when reporting it.');
  });
  app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${c.req.path}`));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const checks = await Promise.allSettled([deps.pool.query('SELECT 1'), deps.temporal.workflowService.getSystemInfo({})]);
    const [store, temporal] = checks.map((r) => (r.status === 'fulfilled' ? 'ok' : `unavailable: ${(r.reason as Error).message}`));
    const ready = checks.every((r) => r.status === 'fulfilled');
    return c.json({ status: ready ? 'ready' : 'not ready', checks: { store, temporal } }, ready ? 200 : 503);
  });

  app.get('/', (c) => c.html(DASHBOARD_HTML));
  app.get('/assets/dashboard.js', (c) => c.body(DASHBOARD_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  app.get('/assets/chart.umd.min.js', async (c) => c.body(await readFile(CHART_JS), 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400' }));

  app.use('/v1/*', async (c, next) => {
    const challenge = { 'WWW-Authenticate': 'Bearer realm="crm-analytics"' };
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return problem(c, 401, 'Send "Authorization: Bearer <analyst key>"', {}, challenge);
    const principal = verify(token);
    if (!principal) return problem(c, 401, 'Unknown API key', {}, challenge);
    c.set('actor', principal.actor);
    await next();
  });

  const reports = { funnel: funnelReport, campaigns: campaignsReport, changes: changesReport, processes: processesReport } as const;
  for (const [name, build] of Object.entries(reports)) {
    app.get(`/v1/analytics/${name}`, async (c) => {
      const parsed = rangeSchema.safeParse(c.req.query());
      if (!parsed.success) {
        const errors = parsed.error.issues.map((i) => ({ path: ['query', ...i.path.map(String)].join('.'), message: i.message, code: i.code }));
        return problem(c, 400, `Invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
      }
      return c.json(await build(deps.pool, parsed.data));
    });
  }
  app.get('/v1/analytics/ingest', async (c) => c.json(await ingestStatus(deps.pool)));
  return app;
}
