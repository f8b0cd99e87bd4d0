/**
 * The codec endpoint the Temporal UI and CLI call to show payloads in clear
 * (`temporal workflow show --codec-endpoint <api>/codec --codec-auth "Bearer <key>"`, or the UI's
 * codec setting). Only admins may decode: everybody else sees ciphertext in the UI. CORS answers
 * the configured UI origins only, with the headers the UI sends (X-Namespace, Authorization).
 *
 * A UI without its own login cannot send a bearer key, so the key may also sit in the path
 * (`<api>/codec/key/<admin key>`): a capability URL an operator enters in the UI's codec setting
 * (the embedded stack configures its local UI this way). The request log records the route
 * pattern, never the path.
 */
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import type { MiddlewareHandler } from 'hono';
import { authenticate, createKeyResolver, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const payloadsSchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }).loose()).max(1000),
});

function fromJson(p: z.infer<typeof payloadsSchema>['payloads'][number]): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  };
}

function toJson(p: Payload) {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export function codecRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const origins = new Set(deps.codecCorsOrigins ?? []);
  app.use(
    '/codec/*',
    cors({
      origin: (origin) => (origins.has(origin) ? origin : null),
      allowMethods: ['POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
      credentials: true,
      maxAge: 600,
    }),
  );
  const resolve = createKeyResolver(deps.pool);
  const keyInPath: MiddlewareHandler<ApiEnv> = async (c, next) => {
    const resolved = await resolve(c.req.param('key') ?? '');
    if ('refused' in resolved) throw new ApiError(401, resolved.refused);
    c.set('principal', resolved.principal);
    await next();
  };
  const handler = async (c: Context<ApiEnv>) => {
    const codec = deps.payloadCodec;
    if (!codec) throw new ApiError(404, 'This API has no payload codec configured');
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, 'Malformed JSON in request body');
    }
    const parsed = payloadsSchema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(400, 'Body must be {"payloads": [{"metadata": {...}, "data": "<base64>"}]}', {
        errors: parsed.error.issues.map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: i.message, code: i.code })),
      });
    }
    const payloads = parsed.data.payloads.map(fromJson);
    try {
      const out = c.req.param('operation') === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      return c.json({ payloads: out.map(toJson) });
    } catch (err) {
      // A payload sealed with an unknown key, or tampered with: the caller's input, not our fault.
      throw new ApiError(422, `Payloads could not be ${c.req.param('operation')}d: ${(err as Error).message}`);
    }
  };
  app.post('/codec/key/:key/:operation{encode|decode}', keyInPath, requireRole('admin'), handler);
  app.post('/codec/:operation{encode|decode}', authenticate(deps.pool), requireRole('admin'), handler);
  return app;
}
