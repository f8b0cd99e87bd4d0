/**
 * Bearer-key authentication and role checks for the operational API. A key belongs to a user
 * (`api_keys`, src/db/repositories/api-keys.ts); the principal of a request is that user: their
 * id is the actor of everything they do. A key is known only by its SHA-256: the presented key
 * is hashed and the row found by that digest, so the database never sees a key and a lookup's
 * timing tells nothing about any stored key that its hash would not (finding a key for a known
 * digest is a preimage search); the digests are then compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { bearerToken, hashKey } from '../auth/keys.js';
import type { Role } from '../config.js';
import type { Pool } from '../db/pool.js';
import { findKeyByHash, touchApiKey } from '../db/repositories/api-keys.js';
import type { ApiEnv, Principal } from './env.js';
import { ApiError } from './problem.js';

export { hashKey, createKeyVerifier } from '../auth/keys.js';

/** Everyone who works with customers: every role but the analyst. */
export const OPERATIONAL_ROLES = ['agent', 'backoffice', 'admin'] as const satisfies readonly Role[];
/** Who approves changes of others and runs campaigns. */
export const BACKOFFICE_ROLES = ['backoffice', 'admin'] as const satisfies readonly Role[];

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="crm"' };
/** A key's last use is written at most this often. */
const TOUCH_EVERY_MS = 60_000;

export type KeyResolution = { principal: Principal } | { refused: string };

/** Resolves a presented key to the principal of an active user holding an unexpired, unrevoked key. */
export function createKeyResolver(pool: Pool) {
  return async (presented: string): Promise<KeyResolution> => {
    const digest = hashKey(presented);
    const found = await findKeyByHash(pool, digest);
    if (!found || !timingSafeEqual(Buffer.from(found.key.sha256, 'hex'), Buffer.from(digest, 'hex'))) return { refused: 'Unknown API key' };
    const { key, user } = found;
    const now = Date.now();
    if (key.revokedAt) return { refused: 'This API key has been revoked' };
    if (key.expiresAt && Date.parse(key.expiresAt) <= now) return { refused: `This API key expired at ${key.expiresAt}` };
    if (!user.active) return { refused: 'The user of this API key is deactivated' };
    if (!key.lastUsedAt || now - Date.parse(key.lastUsedAt) >= TOUCH_EVERY_MS) await touchApiKey(pool, key.id);
    return { principal: { userId: user.id, actor: user.id, roles: user.roles, name: user.name, email: user.email, keyId: key.id } };
  };
}

export function authenticate(pool: Pool): MiddlewareHandler<ApiEnv> {
  const resolve = createKeyResolver(pool);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw new ApiError(401, 'Missing Authorization header: send "Authorization: Bearer <key>"', {}, CHALLENGE);
    const token = bearerToken(header);
    if (!token) throw new ApiError(401, 'Authorization header must use the Bearer scheme', {}, CHALLENGE);
    const resolved = await resolve(token);
    if ('refused' in resolved) throw new ApiError(401, resolved.refused, {}, CHALLENGE);
    c.set('principal', resolved.principal);
    await next();
  };
}

/** Whether the principal holds one of the roles. */
export function holds(principal: Pick<Principal, 'roles'>, roles: readonly Role[]): boolean {
  return principal.roles.some((r) => roles.includes(r));
}

/**
 * The access rule of a route, declared by its middleware so the route table can be read back
 * (test/access.test.ts checks every route × every role against it): which roles may call it, or
 * `public`; and, where a record belongs to a user, who besides its owner may act on it.
 */
export interface AccessRule {
  roles?: readonly Role[] | 'public';
  /**
   * `user-in-path`: the path's `{id}` is a user, and only that user or an admin may call it (checked
   * before the body is read); `record-owner`: the record's user or an admin, checked by the handler
   * once it has read the record (an unknown record is a 404 to everyone).
   */
  ownership?: 'user-in-path' | 'record-owner';
}
const ACCESS_RULE = Symbol.for('crm.accessRule');

function declare<T extends object>(middleware: T, rule: AccessRule): T {
  Object.defineProperty(middleware, ACCESS_RULE, { value: rule });
  return middleware;
}

/** The rule a middleware declares, if any. */
export function accessRuleOf(middleware: unknown): AccessRule | undefined {
  return (middleware as { [ACCESS_RULE]?: AccessRule } | undefined)?.[ACCESS_RULE];
}

/** A route anyone may call without a key (the unsubscribe link of a message, health checks). */
export const publicAccess: MiddlewareHandler<ApiEnv> = declare(async (_c, next) => next(), { roles: 'public' });

const OWN_RECORDS_ONLY = "Only the user themself or an admin may do this on a user's records";

/** The path's `{id}` is a user: only that user or an admin may go on. */
export const ownUserInPath: MiddlewareHandler<ApiEnv> = declare(
  async (c, next) => {
    const principal = c.get('principal');
    if (principal.userId !== c.req.param('id') && !holds(principal, ['admin'])) throw new ApiError(403, OWN_RECORDS_ONLY);
    await next();
  },
  { ownership: 'user-in-path' },
);

/** Declares that the handler lets only the record's user or an admin act on it (`mayActOn`). */
export const ownRecord: MiddlewareHandler<ApiEnv> = declare(async (_c, next) => next(), { ownership: 'record-owner' });

/** The check of an `ownRecord` route, once the record's user is known. */
export function mayActOn(principal: Principal, ownerId: string): void {
  if (principal.userId !== ownerId && !holds(principal, ['admin'])) throw new ApiError(403, OWN_RECORDS_ONLY);
}

export function requireRole(...roles: Role[]): MiddlewareHandler<ApiEnv> {
  return declare(
    async (c, next) => {
      const principal = c.get('principal');
      if (!holds(principal, roles)) {
        throw new ApiError(403, `Role${principal.roles.length > 1 ? 's' : ''} '${principal.roles.join("', '")}' may not do this; allowed: ${roles.join(', ')}`);
      }
      await next();
    },
    { roles },
  );
}

/** Every role that works with customers may do this. */
export const operational = requireRole(...OPERATIONAL_ROLES);
