/** Bearer-key authentication and role checks for the operational API (keys: src/auth/keys.ts). */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, createKeyVerifier } from '../auth/keys.js';
import type { ApiKeyEntry, Role } from '../config.js';
import type { ApiEnv } from './env.js';
import { ApiError } from './problem.js';

export { hashKey, createKeyVerifier } from '../auth/keys.js';

/** Everyone who works with customers: every role but the analyst. */
export const OPERATIONAL_ROLES = ['agent', 'backoffice', 'admin'] as const satisfies readonly Role[];
/** Who approves changes of others and runs campaigns. */
export const BACKOFFICE_ROLES = ['backoffice', 'admin'] as const satisfies readonly Role[];

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="crm"' };

export function authenticate(entries: ApiKeyEntry[]): MiddlewareHandler<ApiEnv> {
  const verify = createKeyVerifier(entries);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw new ApiError(401, 'Missing Authorization header: send "Authorization: Bearer <key>"', {}, CHALLENGE);
    const token = bearerToken(header);
    if (!token) throw new ApiError(401, 'Authorization header must use the Bearer scheme', {}, CHALLENGE);
    const principal = verify(token);
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

/** Every role that works with customers may do this. */
export const operational = requireRole(...OPERATIONAL_ROLES);
