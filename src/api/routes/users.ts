/**
 * The people who work the CRM, managed by admins: create a user, list them (by team, active,
 * role), read one, change one (with the version it is based on), deactivate one. A user is never
 * deleted: their id stays the actor of everything they did. The last active admin can neither be
 * deactivated nor lose the admin role. Every change is audited (process `users`).
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { inTransaction } from '../../db/pool.js';
import { insertUser, listUsers, lockActiveAdmins, lockUser, readUser, updateUser, type User } from '../../db/repositories/users.js';
import { USER_ROLE_VALUES, changedFields, newUserSchema, refuseUserChange, userPatchSchema, type UserPatchRequest } from '../../domain/users.js';
import { uuidSchema } from '../../domain/formats.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { ApiError } from '../problem.js';
import { auditAdministration, baseVersion, duplicateProblem, ifMatchHeaders, staleVersion, teamOrProblem, userIdParam, userSchema } from './user-schemas.js';
import type { Position } from '../../db/keyset.js';

const admin = requireRole('admin');

const createUserRoute = createRoute({
  method: 'post',
  path: '/v1/users',
  operationId: 'createUser',
  tags: ['users'],
  summary: 'Create a user (admins)',
  description: 'A user with roles, a team, a time zone and a locale. They sign in with API keys issued to them (`POST /v1/users/{id}/keys`).',
  middleware: [admin] as const,
  request: {
    body: jsonBody(newUserSchema.openapi('NewUser'), {
      name: 'Carla Closer',
      email: 'carla.closer@example.com',
      roles: ['agent'],
      timeZone: 'Europe/Berlin',
      locale: 'de-DE',
    }),
  },
  responses: { 201: jsonContent(userSchema, 'The new user'), ...problemResponses(400, 401, 403, 409, 413, 415) },
});

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

const listUsersRoute = createRoute({
  method: 'get',
  path: '/v1/users',
  operationId: 'listUsers',
  tags: ['users'],
  summary: 'List users, oldest first, by team, active and role',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    query: z.object({
      teamId: uuidSchema('must be a team id (UUID)').optional(),
      active: booleanQuery.optional().openapi({ type: 'string', enum: ['true', 'false'] }),
      role: z.enum(USER_ROLE_VALUES).optional(),
      pageSize: pageSizeSchema,
      pageToken: pageTokenSchema.optional(),
    }),
  },
  responses: {
    200: jsonContent(z.object({ items: z.array(userSchema), nextPageToken: z.string().optional() }), 'One page of users'),
    ...problemResponses(400, 401, 403),
  },
});

const getUserRoute = createRoute({
  method: 'get',
  path: '/v1/users/{id}',
  operationId: 'getUser',
  tags: ['users'],
  summary: 'Read a user',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: userIdParam },
  responses: { 200: jsonContent(userSchema, 'The user'), ...problemResponses(400, 401, 403, 404) },
});

const patchUserRoute = createRoute({
  method: 'patch',
  path: '/v1/users/{id}',
  operationId: 'updateUser',
  tags: ['users'],
  summary: 'Change a user (admins)',
  description:
    'Changes the fields sent, based on the version read (`version` in the body or `If-Match`); another version is a 409 with the current one. ' +
    'Deactivating (`active: false`) keeps the user and their history; their keys stop working. The last active admin stays an active admin (409).',
  middleware: [admin] as const,
  request: {
    params: userIdParam,
    headers: ifMatchHeaders,
    body: jsonBody(userPatchSchema.openapi('UserPatch'), { version: 1, roles: ['agent', 'backoffice'], timeZone: 'Europe/Vienna' }),
  },
  responses: { 200: jsonContent(userSchema, 'The changed user'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

const deactivateUserRoute = createRoute({
  method: 'post',
  path: '/v1/users/{id}/deactivation',
  operationId: 'deactivateUser',
  tags: ['users'],
  summary: 'Deactivate a user (admins)',
  description:
    'Users are never deleted: a deactivated user keeps their id in every record, but no key of theirs works and no lead, change or task can be ' +
    'given to them. Deactivating a deactivated user changes nothing. The last active admin cannot be deactivated (409).',
  middleware: [admin] as const,
  request: { params: userIdParam },
  responses: { 200: jsonContent(userSchema, 'The deactivated user'), ...problemResponses(400, 401, 403, 404, 409) },
});

export function userRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const tokens = pageTokens(deps.pageTokenSecret);

  /** Applies a patch under the row lock: version, last-admin rule, team, audit. */
  const change = (id: string, actor: string, patch: Omit<UserPatchRequest, 'version'>, version?: number): Promise<User> =>
    inTransaction(deps.pool, async (db) => {
      const user = await lockUser(db, id);
      if (!user) throw new ApiError(404, `No user with id ${id}`);
      if (version !== undefined && version !== user.version) throw staleVersion('user', user.version, version);
      const fields = changedFields(user as unknown as Record<string, unknown>, patch);
      if (fields.length === 0) return user;
      if (patch.teamId) await teamOrProblem(db, patch.teamId, 'body.teamId');
      const refusal = refuseUserChange(user, patch, await lockActiveAdmins(db));
      if (refusal) throw new ApiError(409, refusal);
      const updated = await updateUser(db, id, Object.fromEntries(fields.map((f) => [f.field, f.newValue])));
      await auditAdministration(db, { kind: 'user', id, version: updated.version }, actor, fields);
      return updated;
    }).catch((err: unknown) => {
      throw duplicateProblem(err) ?? err;
    });

  app.openapi(createUserRoute, async (c) => {
    const body = c.req.valid('json');
    const user = await inTransaction(deps.pool, async (db) => {
      if (body.teamId) await teamOrProblem(db, body.teamId, 'body.teamId');
      const created = await insertUser(db, body);
      await auditAdministration(
        db,
        { kind: 'user', id: created.id, version: created.version },
        c.get('principal').actor,
        Object.entries({ name: created.name, email: created.email, roles: created.roles, teamId: created.teamId, active: true }).map(([field, v]) => ({
          field,
          oldValue: null,
          newValue: v,
        })),
      );
      return created;
    }).catch((err: unknown) => {
      throw duplicateProblem(err) ?? err;
    });
    return c.json(user, 201, { Location: `/v1/users/${user.id}` });
  });

  app.openapi(listUsersRoute, async (c) => {
    const { pageSize, pageToken, ...filter } = c.req.valid('query');
    const listing = listingOf('users', filter);
    const page = await listUsers(deps.pool, filter, pageToken === undefined ? undefined : tokens.open<Position>(pageToken, listing), pageSize);
    return c.json({ items: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getUserRoute, async (c) => {
    const { id } = c.req.valid('param');
    const user = await readUser(deps.pool, id);
    if (!user) throw new ApiError(404, `No user with id ${id}`);
    return c.json(user, 200);
  });

  app.openapi(patchUserRoute, async (c) => {
    const { version: _version, ...patch } = c.req.valid('json');
    const version = baseVersion(c, c.req.valid('json'));
    return c.json(await change(c.req.valid('param').id, c.get('principal').actor, patch, version), 200);
  });

  app.openapi(deactivateUserRoute, async (c) => {
    return c.json(await change(c.req.valid('param').id, c.get('principal').actor, { active: false }), 200);
  });

  return app;
}
