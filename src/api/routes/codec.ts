/**
 * The codec endpoint the Temporal UI and CLI call to show payloads in clear, following the Temporal
 * codec server conventions: `POST <endpoint>/decode` with `{"payloads": [...]}`, the namespace in
 * `X-Namespace`, a credential in `Authorization: Bearer …`.
 *
 * Decoding needs a decode-only codec token (CODEC_TOKENS: {name, sha256}) or, where CODEC_OIDC_* is
 * configured, an access token of the Temporal UI's OpenID Connect login carrying the required role
 * (src/auth/oidc.ts; the audit names its subject as `oidc:<sub>`); no API key opens it, and a
 * codec token opens nothing else. The token travels in a header, never in a URL, so it stays out
 * of proxy logs, browser history and problem responses. Only the configured namespace is decoded;
 * CORS answers the one configured Temporal UI origin. Every decode is recorded in `codec_decodes`
 * (who, namespace, the workflow when the caller names it in `X-Workflow-Id`, how many payloads).
 *
 * Encoding (the CLI starting a workflow with clear input) needs an admin API key.
 *
 * The local Temporal UI of `npm start` cannot send a credential: `createLocalCodecApp` serves the
 * decode endpoint without one on a listener bound to 127.0.0.1 (CODEC_LOCAL_PORT), so it is
 * reachable from this machine only and no secret is ever on a command line.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { KeyDestroyedError } from '../../codec/subject-keys.js';
import { bearerToken, createKeyVerifier } from '../../auth/keys.js';
import { createOidcVerifier, looksLikeJwt } from '../../auth/oidc.js';
import { recordCodecDecode } from '../../db/repositories/codec-decodes.js';
import { securityHeaders, serverRequestId } from '../../http/security.js';
import { authenticate, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv, CodecAccess } from '../env.js';
import { ApiError, onError, problemResponse } from '../problem.js';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const payloadsSchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }).loose()).max(1000),
});
const WORKFLOW_ID = /^[\w.:@/-]{1,255}$/;
/** Who the audit names for decodes through the loopback listener of `npm start`. */
export const LOCAL_UI_ACTOR = 'local-temporal-ui';
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="crm-codec"' };

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

function codecAccessOf(deps: ApiDeps): CodecAccess {
  return deps.codecAccess ?? { namespace: 'default' };
}

/** The namespace of the request must be the one this codec serves. */
function namespaceOf(c: Context<ApiEnv>, access: CodecAccess): string {
  const ns = c.req.header('x-namespace');
  if (!ns) throw new ApiError(400, 'Missing X-Namespace header: the namespace whose payloads these are');
  if (ns !== access.namespace) throw new ApiError(403, `This codec serves the namespace ${access.namespace} only`);
  return ns;
}

async function readPayloads(c: Context<ApiEnv>): Promise<Payload[]> {
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
  return parsed.data.payloads.map(fromJson);
}

export function codecRoutes(deps: ApiDeps, opts: { localUi?: boolean } = {}) {
  const app = new Hono<ApiEnv>();
  const access = codecAccessOf(deps);
  app.use(
    '/codec/*',
    cors({
      origin: (origin) => (access.uiOrigin !== undefined && origin === access.uiOrigin ? origin : null),
      allowMethods: ['POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization', 'X-Workflow-Id'],
      maxAge: 600,
    }),
  );
  const verify = createKeyVerifier((access.tokens ?? []).map((t) => ({ role: 'codec' as const, actor: t.name, sha256: t.sha256 })));
  const oidc = access.oidc ? createOidcVerifier(access.oidc) : undefined;
  const codecToken: MiddlewareHandler<ApiEnv> = async (c, next) => {
    if (opts.localUi) {
      c.set('codecActor', LOCAL_UI_ACTOR);
      return next();
    }
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw new ApiError(401, 'Send a codec token: "Authorization: Bearer <codec token>"', {}, CHALLENGE);
    const found = verify(token);
    if (found) {
      c.set('codecActor', found.actor);
      return next();
    }
    if (oidc && looksLikeJwt(token)) {
      const verdict = await oidc(token);
      if ('refused' in verdict) throw new ApiError(verdict.status, verdict.refused, {}, verdict.status === 401 ? CHALLENGE : {});
      c.set('codecActor', `oidc:${verdict.subject}`);
      return next();
    }
    throw new ApiError(401, `Unknown codec token (API keys do not decode${oidc ? '; nor is it an access token of the identity provider' : ''})`, {}, CHALLENGE);
  };

  app.post('/codec/decode', codecToken, async (c) => {
    const codec = deps.payloadCodec;
    if (!codec) throw new ApiError(404, 'This API has no payload codec configured');
    const namespace = namespaceOf(c, access);
    const payloads = await readPayloads(c);
    let out: Payload[];
    try {
      // Each payload on its own: one whose person was erased shows why instead of failing the batch.
      out = await Promise.all(
        payloads.map(async (p) => {
          try {
            return (await codec.decode([p]))[0]!;
          } catch (err) {
            if (err instanceof KeyDestroyedError) return defaultPayloadConverter.toPayload({ erased: err.message });
            throw err;
          }
        }),
      );
    } catch (err) {
      // A payload sealed with an unknown key, or tampered with: the caller's input, not our fault.
      throw new ApiError(422, `Payloads could not be decoded: ${(err as Error).message}`);
    }
    const workflowId = c.req.header('x-workflow-id');
    const decode = {
      actor: c.get('codecActor') ?? LOCAL_UI_ACTOR,
      namespace,
      workflowId: workflowId && WORKFLOW_ID.test(workflowId) ? workflowId : undefined,
      payloads: payloads.length,
      requestId: c.get('requestId'),
    };
    await recordCodecDecode(deps.pool, decode);
    c.get('logger')?.info(decode, 'payloads decoded');
    return c.json({ payloads: out.map(toJson) });
  });
  if (!opts.localUi) {
    app.post('/codec/encode', authenticate(deps.pool), requireRole('admin'), async (c) => {
      const codec = deps.payloadCodec;
      if (!codec) throw new ApiError(404, 'This API has no payload codec configured');
      namespaceOf(c, access);
      const payloads = await readPayloads(c);
      return c.json({ payloads: (await codec.encode(payloads)).map(toJson) });
    });
  }
  return app;
}

/**
 * The decode endpoint alone, without a credential, for the local Temporal UI of `npm start`: the
 * caller must bind it to 127.0.0.1 (src/services.ts does), never to a routable address.
 */
export function createLocalCodecApp(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  app.use('*', serverRequestId());
  app.use('*', securityHeaders());
  app.use('*', async (c, next) => {
    c.set('logger', deps.logger.child({ requestId: c.get('requestId'), codec: 'local' }));
    await next();
  });
  app.onError(onError);
  app.notFound((c) => problemResponse(c, 404, `No route for ${c.req.method} ${c.req.path}`));
  app.route('/', codecRoutes(deps, { localUi: true }));
  return app;
}
