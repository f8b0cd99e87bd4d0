/**
 * Bearer-key authentication. Keys are known only by their SHA-256; a presented key is hashed and
 * compared in constant time against every configured hash, so timing reveals neither which key
 * nor how much of it matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ApiKeyEntry, Role } from '../config.js';
import type { ApiEnv, Principal } from './env.js';
import { ApiError } from './problem.js';

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function createKeyVerifier(entries: ApiKeyEntry[]) {
  const hashes = entries.map((e) => ({ digest: Buffer.from(e.sha256, 'hex'), principal: { role: e.role, actor: e.actor } }));
  return (presented: string): Principal | undefined => {
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: Principal | undefined;
    for (const h of hashes) {
      if (timingSafeEqual(digest, h.digest) && !found) found = h.principal;
    }
    return found;
  };
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="crm"' };

export function authenticate(entries: ApiKeyEntry[]): MiddlewareHandler<ApiEnv> {
  const verify = createKeyVerifier(entries);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw new ApiError(401, 'Missing Authorization header: send "Authorization: Bearer <key>"', {}, CHALLENGE);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new ApiError(401, 'Authorization header must use the Bearer scheme', {}, CHALLENGE);
    const principal = verify(match[1]!);
    if (!principal) throw new ApiError(401, 'Unknown API key', {}, CHALLENGE);
    c.set('principal', principal);
    await next();
  };
}

export function requireRole(...roles: Role[]): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const { role } = c.get('principal');
    if (!roles.includes(role)) {
      throw new ApiError(403, `Role '${role}' may not do this; allowed: ${roles.join(', ')}`);
    }
    await next();
  };
}
