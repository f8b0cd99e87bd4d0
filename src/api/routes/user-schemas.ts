/**
 * What the users, teams and keys routes share: the answers' schemas, the version a change is
 * based on (`version` in the body or `If-Match`), a referenced user or team that must exist, and
 * the audit entry of every change. Routes: ./users.ts, ./teams.ts, ./api-keys.ts.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { INACTIVE_USER, NO_TEAM, NO_USER, USER_ROLE_VALUES } from '../../domain/users.js';
import { writeAudit } from '../../db/repositories/audit-log.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import { readActiveUser, readTeam, readUser } from '../../db/repositories/users.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import type { ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { uuidParam } from '../schemas.js';

export const userIdParam = uuidParam('a user');
export const teamIdParam = uuidParam('a team');

export const userSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    email: z.string(),
    roles: z.array(z.enum(USER_ROLE_VALUES)),
    teamId: z.uuid().nullable(),
    active: z.boolean(),
    timeZone: z.string(),
    locale: z.string(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('User');

export const teamSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    leadUserId: z.uuid().nullable(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Team');

export const apiKeySchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The first characters of the key, to tell keys apart; empty for a key configured in API_KEYS' }),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable().openapi({ description: 'Updated at most once a minute' }),
  })
  .openapi('ApiKey');

export const ifMatchHeaders = z.object({
  'if-match': z
    .string()
    .regex(/^(W\/)?"?\d{1,9}"?$/, 'must be the version the change is based on, e.g. "3"')
    .optional()
    .openapi({ description: 'The version the change is based on (instead of `version` in the body)' }),
});

/** A 400 naming one field. */
export function fieldProblem(path: string, message: string): ApiError {
  return new ApiError(400, `Invalid request: ${path}: ${message}`, { errors: [{ path, message, code: 'custom' }] });
}

/** The version a change is based on: `version` in the body or `If-Match`; one of them is required and they must agree. */
export function baseVersion(c: Context<ApiEnv>, body: { version?: number }): number {
  const header = c.req.header('if-match');
  const fromHeader = header === undefined ? undefined : Number(/\d+/.exec(header)![0]);
  if (fromHeader !== undefined && body.version !== undefined && fromHeader !== body.version) {
    throw fieldProblem('body.version', `is ${body.version} but If-Match says ${fromHeader}`);
  }
  const version = body.version ?? fromHeader;
  if (version === undefined) throw fieldProblem('body.version', 'is required (or send If-Match): the version this change is based on');
  return version;
}

export function staleVersion(what: string, current: number, based: number): ApiError {
  return new ApiError(409, `The ${what} is at version ${current}, not ${based}: read it again and repeat the change`, { version: current });
}

/** A unique e-mail or team name already taken: 409 instead of a 500. */
export function duplicateProblem(err: unknown): ApiError | undefined {
  const e = err as { code?: string; constraint?: string };
  if (e?.code !== '23505') return undefined;
  if (e.constraint === 'users_email_key') return new ApiError(409, 'Another user has this e-mail address');
  if (e.constraint === 'teams_name_key') return new ApiError(409, 'Another team has this name');
  return undefined;
}

export async function teamOrProblem(db: Pool | PoolClient, teamId: string, path: string) {
  const team = await readTeam(db, teamId);
  if (!team) throw fieldProblem(path, NO_TEAM(teamId));
  return team;
}

/** An owner, approver, assignee or team lead: an unknown user is a 400 naming the field, an inactive one a 409. */
export async function activeUserOrProblem(db: Pool | PoolClient, userId: string, path: string) {
  const user = await readActiveUser(db, userId);
  if (user) return user;
  if (await readUser(db, userId)) throw new ApiError(409, `${path}: ${INACTIVE_USER(userId)}`);
  throw fieldProblem(path, NO_USER(userId));
}

/** Audits a change of a user or team: one entry per field, keyed by the entity, its new version and the field. */
export async function auditAdministration(
  db: Pool | PoolClient,
  entity: { kind: 'user' | 'team'; id: string; version: number },
  actor: string,
  fields: Array<{ field: string; oldValue: unknown; newValue: unknown }>,
  step = `${entity.kind}:${entity.id}:v${entity.version}`,
): Promise<void> {
  await writeAudit(
    db,
    { step, actor, process: CRM_PROCESS.users },
    fields.map((f) => ({ ...f, field: `${entity.kind}:${entity.id}:${f.field}` })),
  );
}
