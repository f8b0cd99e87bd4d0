/**
 * What both HTTP APIs (operational and analytics) do on every request to be safe to expose:
 * a request id made by the server, security headers, and rate limits per client address and
 * per key (the address read through trusted reverse proxies only). Shared here so the two APIs
 * cannot drift apart.
 */
import { createHash, randomUUID } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { plainAddress, proxyEntryProblem } from './proxies.js';
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
  /**
   * TRUSTED_PROXIES: addresses or CIDR ranges of the reverse proxies in front of the API. Only a
   * request whose TCP peer is one of them has its X-Forwarded-For read; none by default.
   */
  trustedProxies?: readonly string[];
}

/** Whether an address belongs to the trusted proxies. */
export function proxyMatcher(entries: readonly string[] = []): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const problem = proxyEntryProblem(entry);
    if (problem) throw new Error(`TRUSTED_PROXIES: ${problem}`);
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (address) => {
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** The TCP peer of a request under @hono/node-server; `unknown` for in-process requests (tests). */
export function peerAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * The client's address: the TCP peer, unless that peer is a trusted proxy; then X-Forwarded-For
 * read from the right (each proxy appends the address it saw), skipping trusted proxies, and the
 * first address not among them is the client. Whatever a client writes into the header itself
 * stands to the left of what its first proxy appended, so it is never reached.
 */
export function clientAddress(c: Context, trusted: (address: string) => boolean = () => false): string {
  const peer = peerAddress(c);
  if (!trusted(peer)) return plainAddress(peer);
  const hops = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((a) => plainAddress(a.trim()))
    .filter((a) => a.length > 0);
  let client = plainAddress(peer);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A malformed entry is where the chain stops being trustworthy: count the request against the last proxy that wrote one.
    if (isIP(hop) === 0) break;
    client = hop;
    if (!trusted(hop)) break;
  }
  return client;
}

type TooMany = (c: Context, retryAfterSeconds: string) => Response | Promise<Response>;

/**
 * Rate limits, counted in this process's memory (hono-rate-limiter's MemoryStore): with several
 * API processes behind a balancer each counts its own share, so the effective limit is the
 * configured one times the number of processes. A client over a limit gets 429 with Retry-After.
 */
export function rateLimits(limits: RateLimits, tooMany: TooMany): { perAddress: MiddlewareHandler; perKey: MiddlewareHandler } {
  const handler = async (c: Context) => tooMany(c, c.res.headers.get('Retry-After') ?? '60');
  const trusted = proxyMatcher(limits.trustedProxies);
  return {
    perAddress: rateLimiter({
      windowMs: 60_000,
      limit: limits.perAddress,
      standardHeaders: 'draft-6',
      keyGenerator: (c) => `address:${clientAddress(c, trusted)}`,
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
