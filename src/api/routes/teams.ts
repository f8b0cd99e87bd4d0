/**
 * Teams, managed by admins: a name and a lead (who overdue work escalates to). Leads and owners
 * are assigned round-robin among a team's active agents. The lead must be an active user.
 * Every change is audited (process `users`).
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { inTransaction } from '../../db/pool.js';
import { activeTeamMembers, insertTeam, listTeams, lockTeam, readTeam, updateTeam } from '../../db/repositories/users.js';
import { changedFields, newTeamSchema, teamPatchSchema } from '../../domain/users.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { ApiError } from '../problem.js';
import {
  activeUserOrProblem,
  auditAdministration,
  baseVersion,
  duplicateProblem,
  ifMatchHeaders,
  staleVersion,
  teamIdParam,
  teamSchema,
  userSchema,
} from './user-schemas.js';

const admin = requireRole('admin');

const teamWithMembersSchema = teamSchema
  .extend({ activeAgents: z.array(userSchema).openapi({ description: 'Active members with the agent role, in round-robin order' }) })
  .openapi('TeamWithMembers');

const createTeamRoute = createRoute({
  method: 'post',
  path: '/v1/teams',
  operationId: 'createTeam',
  tags: ['users'],
  summary: 'Create a team (admins)',
  middleware: [admin] as const,
  request: { body: jsonBody(newTeamSchema.openapi('NewTeam'), { name: 'Sales North' }) },
  responses: { 201: jsonContent(teamSchema, 'The new team'), ...problemResponses(400, 401, 403, 409, 413, 415) },
});

const listTeamsRoute = createRoute({
  method: 'get',
  path: '/v1/teams',
  operationId: 'listTeams',
  tags: ['users'],
  summary: 'List teams by name',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  responses: { 200: jsonContent(z.object({ items: z.array(teamSchema) }), 'Every team'), ...problemResponses(401, 403) },
});

const getTeamRoute = createRoute({
  method: 'get',
  path: '/v1/teams/{id}',
  operationId: 'getTeam',
  tags: ['users'],
  summary: 'Read a team with its active agents',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: teamIdParam },
  responses: { 200: jsonContent(teamWithMembersSchema, 'The team'), ...problemResponses(400, 401, 403, 404) },
});

const patchTeamRoute = createRoute({
  method: 'patch',
  path: '/v1/teams/{id}',
  operationId: 'updateTeam',
  tags: ['users'],
  summary: 'Rename a team or change its lead (admins)',
  description:
    'Based on the version read (`version` in the body or `If-Match`). The lead must be an active user (an unknown one is a 400, a deactivated one a 409); `null` removes the lead.',
  middleware: [admin] as const,
  request: { params: teamIdParam, headers: ifMatchHeaders, body: jsonBody(teamPatchSchema.openapi('TeamPatch'), { version: 1, name: 'Sales North-East' }) },
  responses: { 200: jsonContent(teamSchema, 'The changed team'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

export function teamRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(createTeamRoute, async (c) => {
    const body = c.req.valid('json');
    const team = await inTransaction(deps.pool, async (db) => {
      if (body.leadUserId) await activeUserOrProblem(db, body.leadUserId, 'body.leadUserId');
      const created = await insertTeam(db, body);
      await auditAdministration(db, { kind: 'team', id: created.id, version: created.version }, c.get('principal').actor, [
        { field: 'name', oldValue: null, newValue: created.name },
        { field: 'leadUserId', oldValue: null, newValue: created.leadUserId },
      ]);
      return created;
    }).catch((err: unknown) => {
      throw duplicateProblem(err) ?? err;
    });
    return c.json(team, 201, { Location: `/v1/teams/${team.id}` });
  });

  app.openapi(listTeamsRoute, async (c) => c.json({ items: await listTeams(deps.pool) }, 200));

  app.openapi(getTeamRoute, async (c) => {
    const { id } = c.req.valid('param');
    const team = await readTeam(deps.pool, id);
    if (!team) throw new ApiError(404, `No team with id ${id}`);
    return c.json({ ...team, activeAgents: await activeTeamMembers(deps.pool, id, ['agent']) }, 200);
  });

  app.openapi(patchTeamRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { version: _version, ...patch } = c.req.valid('json');
    const version = baseVersion(c, c.req.valid('json'));
    const team = await inTransaction(deps.pool, async (db) => {
      const current = await lockTeam(db, id);
      if (!current) throw new ApiError(404, `No team with id ${id}`);
      if (current.version !== version) throw staleVersion('team', current.version, version);
      const fields = changedFields(current as unknown as Record<string, unknown>, patch);
      if (fields.length === 0) return current;
      if (patch.leadUserId) await activeUserOrProblem(db, patch.leadUserId, 'body.leadUserId');
      const updated = await updateTeam(db, id, patch);
      await auditAdministration(db, { kind: 'team', id, version: updated.version }, c.get('principal').actor, fields);
      return updated;
    }).catch((err: unknown) => {
      throw duplicateProblem(err) ?? err;
    });
    return c.json(team, 200);
  });

  return app;
}
