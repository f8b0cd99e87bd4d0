/**
 * The people who work the CRM (`users`, `teams`): the reads every process needs to check an
 * owner, approver or assignee, to rotate work within a team and to escalate to a team lead.
 * User administration and API keys build on these rows (the users routes and src/api/auth.ts).
 */
import type { Pool, PoolClient } from '../pool.js';

type Db = Pool | PoolClient;

export const USER_ROLES = ['agent', 'backoffice', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export interface User {
  id: string;
  name: string;
  email: string;
  roles: UserRole[];
  teamId: string | null;
  active: boolean;
  timeZone: string;
  locale: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Team {
  id: string;
  name: string;
  leadUserId: string | null;
  createdAt: string;
  updatedAt: string;
}

interface UserRow {
  id: string;
  name: string;
  email: string;
  roles: UserRole[];
  team_id: string | null;
  active: boolean;
  time_zone: string;
  locale: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

interface TeamRow {
  id: string;
  name: string;
  lead_user_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export const USER_COLUMNS = 'id, name, email, roles, team_id, active, time_zone, locale, version, created_at, updated_at';
export const TEAM_COLUMNS = 'id, name, lead_user_id, created_at, updated_at';

export const toUser = (r: UserRow): User => ({
  id: r.id,
  name: r.name,
  email: r.email,
  roles: r.roles,
  teamId: r.team_id,
  active: r.active,
  timeZone: r.time_zone,
  locale: r.locale,
  version: r.version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const toTeam = (r: TeamRow): Team => ({
  id: r.id,
  name: r.name,
  leadUserId: r.lead_user_id,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export async function readUser(db: Db, id: string): Promise<User | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] && toUser(rows[0]);
}

/** The user if they exist and are active (an owner, approver or assignee must be); optionally with one of the roles. */
export async function readActiveUser(db: Db, id: string, roles?: readonly UserRole[]): Promise<User | undefined> {
  const user = await readUser(db, id);
  if (!user?.active) return undefined;
  if (roles && !user.roles.some((r) => roles.includes(r))) return undefined;
  return user;
}

export async function readTeam(db: Db, id: string): Promise<Team | undefined> {
  const { rows } = await db.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE id = $1`, [id]);
  return rows[0] && toTeam(rows[0]);
}

/**
 * Who work escalates to from this user: the lead of their team when that lead is active and not
 * the user themself; undefined when there is nobody above them.
 */
export async function escalationTarget(db: Db, userId: string): Promise<User | undefined> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${USER_COLUMNS.split(', ')
      .map((c) => `l.${c}`)
      .join(', ')}
       FROM users u JOIN teams t ON t.id = u.team_id JOIN users l ON l.id = t.lead_user_id
      WHERE u.id = $1 AND l.active AND l.id <> u.id`,
    [userId],
  );
  return rows[0] && toUser(rows[0]);
}

/** The active members of a team with one of the roles, in a stable order (the order of a round-robin). */
export async function activeTeamMembers(db: Db, teamId: string, roles: readonly UserRole[]): Promise<User[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE team_id = $1 AND active AND roles && $2::text[] ORDER BY created_at, id`, [
    teamId,
    roles,
  ]);
  return rows.map(toUser);
}
