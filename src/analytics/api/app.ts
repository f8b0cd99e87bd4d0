/**
 * The analytics HTTP API (port 3001): reports and the dashboard, behind its own analyst keys.
 * It reads only the analytics store; the operational system never calls it.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Client } from '@temporalio/client';
import { bearerToken, createKeyVerifier } from '../../auth/keys.js';
import type { Logger } from '../../logger.js';
import { docsRoutes } from '../../http/docs.js';
import { declaredMethods } from '../../http/methods.js';
import { rateLimits, readinessOf, securityHeaders, serverRequestId, withTimeout, type RateLimits } from '../../http/security.js';
import { campaignsReport, changesReport, funnelReport, ingestStatus, processesReport } from '../reports.js';
import type { StorePool } from '../store.js';
import { isDatabaseUnavailable } from '../../http/database-unavailable.js';
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.js';
import { ingestLag } from '../ingest/ingest.js';
import { campaignsRoute, changesRoute, funnelRoute, ingestRoute, processesRoute } from './routes.js';
import { forecastRoute, pipelineRoute, salesRoute, tasksRoute } from './pipeline-routes.js';
import { followStatus, forecastReport, pipelineReport, salesReport, taskSlaReport } from '../pipeline-reports.js';

export interface AnalyticsApiDeps {
  pool: StorePool;
  temporal: Client;
  logger: Logger;
  keys: Array<{ actor: string; sha256: string }>;
  /** TEMPORAL_RETENTION in ms: `/readyz` warns when ingestion lags half of it. */
  retentionMs: number;
  /** The ingest's own visibility filter, so the lag counts what ingestion would take. */
  ingestFilter?: string;
  /** Requests a minute per key and per client address; 600 and 1200 when not given. */
  rateLimits?: RateLimits;
}

type Env = { Variables: { requestId: string; correlationId?: string; actor: string } };

const require = createRequire(import.meta.url);
const CHART_JS = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');

const TITLES = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
} as const;

function problem(
  c: Context<Env>,
  status: keyof typeof TITLES & ContentfulStatusCode,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return c.body(
    JSON.stringify({
      type: 'about:blank',
      title: TITLES[status],
      status,
      detail,
      instance: c.req.path,
      requestId: c.get('requestId'),
      ...extra,
    }),
    status,
    {
      'Content-Type': 'application/problem+json',
      ...headers,
    },
  );
}

export function createAnalyticsApi(deps: AnalyticsApiDeps) {
  const app = new OpenAPIHono<Env>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const errors = result.error.issues.map((i) => ({
        path: ['query', ...i.path.map(String)].join('.'),
        message: i.message,
        code: i.code,
      }));
      return problem(c, 400, `Invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
    },
  });
  const verify = createKeyVerifier(deps.keys.map((k) => ({ ...k, role: 'analyst' as const })));

  app.use('*', serverRequestId());
  app.use('*', securityHeaders());
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    deps.logger.info(
      {
        requestId: c.get('requestId'),
        correlationId: c.get('correlationId'),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - t0),
      },
      'request',
    );
  });
  app.onError((err, c) => {
    if (isDatabaseUnavailable(err)) {
      deps.logger.warn({ requestId: c.get('requestId'), err: { type: err.name, message: err.message } }, 'analytics store unavailable');
      return problem(c, 503, 'The analytics store is unavailable at the moment. Retry shortly.', {}, { 'Retry-After': '5' });
    }
    deps.logger.error({ requestId: c.get('requestId'), err: { type: err.name, message: err.message, stack: err.stack } }, 'unhandled error');
    return problem(c, 500, 'An unexpected error occurred; quote the request id when reporting it.');
  });
  const methodsOf = declaredMethods(app.routes);
  app.notFound((c) => {
    const allow = methodsOf(c.req.path);
    if (allow.length > 0 && !allow.includes(c.req.method)) {
      return problem(c, 405, `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(', ')}`, {}, { Allow: allow.join(', ') });
    }
    return problem(c, 404, `No route for ${c.req.method} ${c.req.path}`);
  });

  const limits = rateLimits(deps.rateLimits ?? { perKey: 600, perAddress: 1200 }, (c, retryAfter) =>
    problem(c as Context<Env>, 429, `Too many requests; retry after ${retryAfter} s`, {}, { 'Retry-After': retryAfter }),
  );
  // Health probes answer before the rate limits, as on the operational API.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.pool.query('SELECT 1'), 2_000, 'the analytics store'),
      withTimeout(deps.temporal.workflowService.getSystemInfo({}), 2_000, 'Temporal'),
    ]);
    const { store, temporal } = readinessOf(checks, ['store', 'temporal'], (name, err) =>
      deps.logger.warn({ requestId: c.get('requestId'), dependency: name, err }, 'not ready'),
    );
    const ready = checks.every((r) => r.status === 'fulfilled');
    // A lag is a warning, not unreadiness: reports still answer, only older.
    // The lag is best effort: if it cannot be read in time, readiness answers without it.
    const ingest = ready
      ? await withTimeout(
          ingestLag({ pool: deps.pool, temporal: deps.temporal, retentionMs: deps.retentionMs, filter: deps.ingestFilter }),
          3_000,
          'the ingest lag',
        ).catch((err: unknown) => {
          deps.logger.warn({ requestId: c.get('requestId'), err }, 'ingest lag unavailable');
          return undefined;
        })
      : undefined;
    if (ingest?.warning) deps.logger.warn({ lagSeconds: ingest.lagSeconds, pending: ingest.pending }, ingest.warning);
    return c.json({ status: ready ? 'ready' : 'not ready', checks: { store, temporal }, ...(ingest ? { ingest } : {}) }, ready ? 200 : 503);
  });
  app.use('*', limits.perAddress);
  app.use('*', limits.perKey);

  app.get('/', (c) => c.html(DASHBOARD_HTML));
  app.get('/assets/dashboard.js', (c) => c.body(DASHBOARD_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  app.get('/assets/chart.umd.min.js', async (c) =>
    c.body(await readFile(CHART_JS), 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400' }),
  );

  app.use('/v1/*', async (c, next) => {
    const challenge = { 'WWW-Authenticate': 'Bearer realm="crm-analytics"' };
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return problem(c, 401, 'Send "Authorization: Bearer <analyst key>"', {}, challenge);
    const principal = verify(token);
    if (!principal) return problem(c, 401, 'Unknown API key', {}, challenge);
    c.set('actor', principal.actor);
    await next();
  });

  app.openapi(funnelRoute, async (c) => c.json(await funnelReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(campaignsRoute, async (c) => c.json(await campaignsReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(changesRoute, async (c) => c.json(await changesReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(processesRoute, async (c) => c.json(await processesReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(ingestRoute, async (c) => c.json({ ...(await ingestStatus(deps.pool)), followed: await followStatus(deps.pool) }, 200));
  app.openapi(pipelineRoute, async (c) => c.json(await pipelineReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(forecastRoute, async (c) => c.json(await forecastReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(salesRoute, async (c) => c.json(await salesReport(deps.pool, c.req.valid('query')), 200));
  app.openapi(tasksRoute, async (c) => c.json(await taskSlaReport(deps.pool, c.req.valid('query')), 200));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'An analyst key' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'CRM analytics API',
      version: '0.1.0',
      description:
        'Reports over closed workflows and the running funnels and tasks, read from the analytics store only. Errors are application/problem+json (RFC 9457).',
    },
    security: [{ bearerAuth: [] }],
  });
  app.route('/', docsRoutes('CRM analytics API'));
  return app;
}
