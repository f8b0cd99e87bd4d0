/**
 * What both HTTP APIs (operational and analytics) do on every request to be safe to expose:
 * a request id made by the server, security headers, and rate limits per client address and
 * per key. Shared here so the two APIs cannot drift apart.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { rateLimiter } from 'hono-rate-limiter';
import { bearerToken } from '../auth/keys.js';

type RequestIdEnv = { Variables: { requestId: string; correlationId?: string } };

/** A correlation id a client may send (X-Request-Id): kept for the log only when it looks like an id. */
const CORRELATION_ID = /^[\w.:-]{1,128}$/;

/**
 * Every request gets an id the server makes (answered as X-Request-Id, quoted in problems and
 * logs). A client's own X-Request-Id is never the request's id (it would let clients collide
 * with each other's audit steps): it is kept as `correlationId`, for the log line only.
 */
export function serverRequestId(): MiddlewareHandler<RequestIdEnv> {
  return async (c, next) => {
    c.set('requestId', randomUUID());
    const theirs = c.req.header('x-request-id');
    if (theirs && CORRELATION_ID.test(theirs)) c.set('correlationId', theirs);
    await next();
    c.res.headers.set('X-Request-Id', c.get('requestId'));
  };
}

/**
 * Security headers on every response (HSTS, nosniff, frame denial, no referrer, a strict CSP).
 * The CSP allows only this origin's scripts and no inline script: the API docs (Swagger UI) and
 * the analytics dashboard load theirs from files; both set inline styles, and Swagger UI shows
 * data: images.
 */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
    referrerPolicy: 'no-referrer',
    xFrameOptions: 'DENY',
    crossOriginResourcePolicy: 'same-origin',
  });
}

export interface RateLimits {
  /** Requests a minute per API key (per presented bearer token, before it is checked). */
  perKey: number;
  /** Requests a minute per client address. */
  perAddress: number;
}

/** The TCP peer of a request under @hono/node-server; `unknown` for in-process requests (tests). */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

type TooMany = (c: Context, retryAfterSeconds: string) => Response | Promise<Response>;

/**
 * Rate limits, counted in this process's memory (hono-rate-limiter's MemoryStore): with several
 * API processes behind a balancer each counts its own share, so the effective limit is the
 * configured one times the number of processes. A client over a limit gets 429 with Retry-After.
 */
export function rateLimits(limits: RateLimits, tooMany: TooMany): { perAddress: MiddlewareHandler; perKey: MiddlewareHandler } {
  const handler = async (c: Context) => tooMany(c, c.res.headers.get('Retry-After') ?? '60');
  return {
    perAddress: rateLimiter({
      windowMs: 60_000,
      limit: limits.perAddress,
      standardHeaders: 'draft-6',
      keyGenerator: (c) => `address:${clientAddress(c)}`,
      handler,
    }) as MiddlewareHandler,
    perKey: rateLimiter({
      windowMs: 60_000,
      limit: limits.perKey,
      standardHeaders: 'draft-6',
      // Counted by the key's digest, so the store holds no key; requests without one count per address only.
      skip: (c) => !bearerToken(c.req.header('authorization')),
      keyGenerator: (c) =>
        `key:${createHash('sha256')
          .update(bearerToken(c.req.header('authorization'))!)
          .digest('base64url')}`,
      handler,
    }) as MiddlewareHandler,
  };
}

/** A readiness probe that does not answer in time counts as down: a frozen dependency must not hang `/readyz`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `/readyz` says which dependency is down, never why: the reason goes to the log only. */
export function readinessOf(checks: PromiseSettledResult<unknown>[], names: string[], log: (name: string, err: unknown) => void): Record<string, string> {
  return Object.fromEntries(
    checks.map((r, i) => {
      if (r.status === 'fulfilled') return [names[i]!, 'ok'];
      log(names[i]!, r.reason);
      return [names[i]!, 'unavailable'];
    }),
  );
}
