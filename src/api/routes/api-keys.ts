/**
 * API keys per user: issue one (shown once: only its SHA-256 and its first characters are kept),
 * list them (no secrets: name, prefix, created, expires, last used, revoked) and revoke one. A
 * user manages their own keys; admins anyone's. A revoked or expired key, or any key of a
 * deactivated user, is answered 401 (src/api/auth.ts).
 */
import { randomBytes } from 'node:crypto';
import { ROLES } from '../../config.js';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { hashKey } from '../../auth/keys.js';
import { inTransaction } from '../../db/pool.js';
import { insertApiKey, listApiKeys, readApiKeyById, revokeApiKey } from '../../db/repositories/api-keys.js';
import { readUser } from '../../db/repositories/users.js';
import { KEY_PREFIX_LENGTH, newKeySchema } from '../../domain/users.js';
import { mayActOn, ownRecord, ownUserInPath, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { ApiError } from '../problem.js';
import { uuidParam } from '../schemas.js';
import { apiKeySchema, auditAdministration, fieldProblem, userIdParam } from './user-schemas.js';

const keyIdParam = uuidParam('an API key');

const issuedKeySchema = apiKeySchema
  .extend({ key: z.string().openapi({ description: 'The key itself: shown this once, never stored; send it as `Authorization: Bearer <key>`' }) })
  .openapi('IssuedApiKey');

/** Every signed-in user manages their own keys (ownUserInPath; for a key, ownRecord and mayActOn). */
const anyRole = requireRole(...ROLES);

const issueKeyRoute = createRoute({
  method: 'post',
  path: '/v1/users/{id}/keys',
  operationId: 'issueApiKey',
  middleware: [anyRole, ownUserInPath] as const,
  tags: ['users'],
  summary: 'Issue an API key to a user (the user themself, or an admin)',
  description:
    'Answers the key once (`key`); only its SHA-256 and its first characters (`prefix`) are stored. The answer is never kept for an Idempotency-Key ' +
    '(a repeat issues another key). The user must be active.',
  request: { params: userIdParam, body: jsonBody(newKeySchema.openapi('NewApiKey'), { name: 'laptop', expiresAt: '2031-01-01T00:00:00Z' }) },
  responses: { 201: jsonContent(issuedKeySchema, 'The new key, shown this once'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

const listKeysRoute = createRoute({
  method: 'get',
  path: '/v1/users/{id}/keys',
  operationId: 'listApiKeys',
  middleware: [anyRole, ownUserInPath] as const,
  tags: ['users'],
  summary: "A user's API keys, newest first, without secrets (the user themself, or an admin)",
  request: { params: userIdParam },
  responses: { 200: jsonContent(z.object({ items: z.array(apiKeySchema) }), 'The keys'), ...problemResponses(400, 401, 403, 404) },
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  operationId: 'revokeApiKey',
  middleware: [anyRole, ownRecord] as const,
  tags: ['users'],
  summary: 'Revoke an API key (its user, or an admin)',
  description: 'From now on the key is answered 401. Revoking a revoked key changes nothing and answers the key as it is.',
  request: { params: keyIdParam },
  responses: { 200: jsonContent(apiKeySchema, 'The revoked key'), ...problemResponses(400, 401, 403, 404) },
});

export function apiKeyRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(issueKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw fieldProblem('body.expiresAt', 'must be in the future');
    const key = `crm_${randomBytes(32).toString('base64url')}`;
    const issued = await inTransaction(deps.pool, async (db) => {
      const user = await readUser(db, id);
      if (!user) throw new ApiError(404, `No user with id ${id}`);
      if (!user.active) throw new ApiError(409, `User ${id} is deactivated: activate them before issuing a key`);
      const created = await insertApiKey(db, {
        userId: id,
        name: body.name,
        sha256: hashKey(key),
        prefix: key.slice(0, KEY_PREFIX_LENGTH),
        expiresAt: body.expiresAt,
      });
      await auditAdministration(
        db,
        { kind: 'user', id, version: user.version },
        c.get('principal').actor,
        [{ field: `key:${created.id}`, oldValue: null, newValue: { name: created.name, prefix: created.prefix, expiresAt: created.expiresAt } }],
        `key:${created.id}:issued`,
      );
      return created;
    });
    // The key must not be kept anywhere: not by a cache, not by the Idempotency-Key store.
    return c.json({ ...issued, key }, 201, { Location: `/v1/users/${id}/keys`, 'Cache-Control': 'no-store' });
  });

  app.openapi(listKeysRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await readUser(deps.pool, id))) throw new ApiError(404, `No user with id ${id}`);
    return c.json({ items: await listApiKeys(deps.pool, id) }, 200);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const key = await readApiKeyById(deps.pool, id);
    if (!key) throw new ApiError(404, `No API key with id ${id}`);
    mayActOn(c.get('principal'), key.userId);
    const revoked = await inTransaction(deps.pool, async (db) => {
      const done = (await revokeApiKey(db, key.userId, id))!;
      await auditAdministration(
        db,
        { kind: 'user', id: key.userId, version: 0 },
        c.get('principal').actor,
        [{ field: `key:${id}:revokedAt`, oldValue: null, newValue: done.revokedAt }],
        `key:${id}:revoked`,
      );
      return done;
    });
    return c.json(revoked, 200);
  });

  return app;
}
