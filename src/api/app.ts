/**
 * The operational HTTP API: a thin layer that validates with zod, calls Temporal or reads
 * PostgreSQL, and maps the outcome to HTTP. No business logic lives here.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { ZodError } from 'zod';
import { authenticate, publicAccess } from './auth.js';
import { idempotencyKeyStore } from '../db/repositories/idempotency-keys.js';
import { DEFAULT_IDEMPOTENCY_TTL_MS, idempotencyKeys } from './idempotency.js';
import { docsRoutes } from '../http/docs.js';
import { declaredMethods } from '../http/methods.js';
import { rateLimits, readinessOf, securityHeaders, serverRequestId, withTimeout } from '../http/security.js';
import { DEFAULT_RATE_LIMITS } from './env.js';
import type { ApiDeps, ApiEnv } from './env.js';
import { onError, problemResponse, validationProblem } from './problem.js';
import { declareIdempotency, linkCreatedResources } from './openapi.js';
import { customerRoutes } from './routes/customers.js';
import { changeCommandRoutes } from './routes/change-commands.js';
import { masterDataRoutes } from './routes/master-data.js';
import { gdprRoutes } from './routes/gdpr.js';
import { leadGdprRoutes } from './routes/gdpr-leads.js';
import { auditRoutes } from './routes/audit.js';
import { codecRoutes } from './routes/codec.js';
import { offerRoutes } from './routes/offers.js';
import { catalogueRoutes } from './routes/catalogue.js';
import { retentionRoutes } from './routes/retention.js';
import { enrollmentRoutes } from './routes/retention-enrollments.js';
import { retentionEventRoutes } from './routes/retention-events.js';
import { acquisitionRoutes } from './routes/acquisition.js';
import { leadCommandRoutes } from './routes/acquisition-commands.js';
import { opportunityRoutes } from './routes/opportunities.js';
import { contactRoutes } from './routes/contacts.js';
import { onboardingRoutes } from './routes/onboarding.js';
import { consentRoutes } from './routes/consent.js';
import { unsubscribeRoutes } from './routes/unsubscribe.js';
import { customerLinkRoutes } from './routes/customer-links.js';
import { taskRoutes } from './routes/tasks.js';
import { messageRoutes } from './routes/messages.js';
import { userRoutes } from './routes/users.js';
import { teamRoutes } from './routes/teams.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { webhookRoutes } from './routes/webhooks.js';
import { registerEventCatalogue } from './routes/webhook-schemas.js';
import { importRoutes } from './routes/imports.js';

export const MAX_BODY_BYTES = 64 * 1024;

export function createApi(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return validationProblem(c, result.error as unknown as ZodError, result.target);
    },
  });

  app.use('*', serverRequestId());
  app.use('*', securityHeaders());
  app.use('*', async (c, next) => {
    const correlationId = c.get('correlationId');
    const log = deps.logger.child({ requestId: c.get('requestId'), ...(correlationId ? { correlationId } : {}) });
    c.set('logger', log);
    const started = performance.now();
    await next();
    const principal = c.get('principal');
    log.info(
      {
        method: c.req.method,
        // An unmatched path is logged as sent, except under /codec/ (where an old UI setting may carry a key).
        path: c.req.routePath !== '/*' ? c.req.routePath : c.req.path.startsWith('/codec/') ? '/codec/*' : c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
        actor: principal?.actor,
        workflowId: c.get('workflowId'),
      },
      'request',
    );
  });

  app.onError(onError);
  const methodsOf = declaredMethods(app.routes);
  app.notFound((c) => {
    const allow = methodsOf(c.req.path);
    if (allow.length > 0 && !allow.includes(c.req.method)) {
      return problemResponse(c, 405, `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(', ')}`, {}, { Allow: allow.join(', ') });
    }
    // The retired `/codec/key/<key>/…` put a key in the path: never echo a codec path back.
    if (c.req.path.startsWith('/codec/')) {
      return problemResponse(c, 404, 'No such codec endpoint: POST /codec/decode with "Authorization: Bearer <codec token>"', { instance: '/codec' });
    }
    return problemResponse(c, 404, `No route for ${c.req.method} ${c.req.path}`);
  });

  const limits = rateLimits(deps.rateLimits ?? DEFAULT_RATE_LIMITS, (c, retryAfter) =>
    problemResponse(c, 429, `Too many requests; retry after ${retryAfter} s`, {}, { 'Retry-After': retryAfter }),
  );
  // Health probes answer before the rate limits: a load balancer or supervisor polling them must
  // learn the truth, also while clients of the same address are being limited.
  app.get('/healthz', publicAccess, (c) => c.json({ status: 'ok' }));
  app.get('/readyz', publicAccess, async (c) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.pool.query('SELECT 1'), 2_000, 'PostgreSQL'),
      withTimeout(deps.temporal.workflowService.getSystemInfo({}), 2_000, 'Temporal'),
    ]);
    const states = readinessOf(checks, ['postgres', 'temporal'], (name, err) => c.get('logger').warn({ dependency: name, err }, 'not ready'));
    const ready = checks.every((r) => r.status === 'fulfilled');
    return c.json({ status: ready ? 'ready' : 'not ready', checks: states }, ready ? 200 : 503);
  });
  app.use('*', limits.perAddress);
  app.use('*', limits.perKey);

  app.route('/', codecRoutes(deps));
  // Public: the unsubscribe link of marketing messages works without a key (and outside /v1's JSON-only bodies).
  app.route('/', unsubscribeRoutes(deps));
  // Public too: the links of an export, an erasure's cancellation and a contact change's stop, sent to the customer.
  app.route('/', customerLinkRoutes(deps));

  const jsonBodyLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => problemResponse(c, 413, `Request body is larger than ${MAX_BODY_BYTES} bytes`),
  });
  // An import's body is a file (CSV or JSON lines, up to IMPORT_MAX_BYTES): its route sets its own limit and checks its own content type.
  const isFileUpload = (c: { req: { method: string; path: string } }) => c.req.method === 'POST' && c.req.path === '/v1/imports';
  app.use('/v1/*', (c, next) => (isFileUpload(c) ? next() : jsonBodyLimit(c, next)));
  app.use('/v1/*', async (c, next) => {
    const method = c.req.method;
    if (isFileUpload(c)) return next();
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      const type = c.req.header('content-type');
      const length = Number(c.req.header('content-length') ?? 0);
      // A body-less POST (a command without parameters) needs no content type; anything sent
      // with another type, or sent without one, is refused.
      const sendsBody = type !== undefined || length > 0 || c.req.header('transfer-encoding') !== undefined;
      if (sendsBody && !/^application\/(.+\+)?json\s*(;|$)/i.test(type ?? '')) {
        return problemResponse(c, 415, `Content-Type must be application/json, not ${type ?? 'missing'}`, {}, { Accept: 'application/json' });
      }
    }
    await next();
  });
  app.use('/v1/*', authenticate(deps.pool));
  app.use('/v1/*', idempotencyKeys(idempotencyKeyStore(deps.pool, deps.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS)));

  app.route('/', customerRoutes(deps));
  app.route('/', masterDataRoutes(deps));
  app.route('/', changeCommandRoutes(deps));
  app.route('/', auditRoutes(deps));
  app.route('/', gdprRoutes(deps));
  app.route('/', leadGdprRoutes(deps));
  app.route('/', catalogueRoutes(deps));
  app.route('/', offerRoutes(deps));
  app.route('/', retentionRoutes(deps));
  app.route('/', enrollmentRoutes(deps));
  app.route('/', retentionEventRoutes(deps));
  app.route('/', acquisitionRoutes(deps));
  app.route('/', leadCommandRoutes(deps));
  app.route('/', opportunityRoutes(deps));
  app.route('/', contactRoutes(deps));
  app.route('/', onboardingRoutes(deps));
  app.route('/', consentRoutes(deps));
  app.route('/', taskRoutes(deps));
  app.route('/', messageRoutes(deps));
  app.route('/', userRoutes(deps));
  app.route('/', teamRoutes(deps));
  app.route('/', apiKeyRoutes(deps));
  app.route('/', webhookRoutes(deps));
  registerEventCatalogue(app.openAPIRegistry);
  app.route('/', importRoutes(deps));

  linkCreatedResources(app.openAPIRegistry);
  declareIdempotency(app.openAPIRegistry);
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: "An API key of a user; the user's roles decide what it may do",
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'CRM process engine API',
      version: '0.1.0',
      description: 'Starts, signals, updates and queries the CRM processes. Errors are application/problem+json (RFC 9457).',
    },
    security: [{ bearerAuth: [] }],
  });
  app.route('/', docsRoutes('CRM process engine API'));
  return app;
}

export type Api = ReturnType<typeof createApi>;
