/**
 * The people who work the CRM (`users`, `teams`): the reads every process needs to check an
 * owner, approver or assignee, to rotate work within a team and to escalate to a team lead, and
 * the writes of user administration (src/api/routes/users.ts) and of the bootstrap of configured
 * keys (src/api/bootstrap.ts). API keys: api-keys.ts.
 */
import { randomUUID } from 'node:crypto';
import { after, orderBy, pageOf, type Position, type SortOrder } from '../keyset.js';
import type { Pool, PoolClient } from '../pool.js';

type Db = Pool | PoolClient;

/** `analyst` reads reports only: the operational API answers such a user 403 (migration 0011). */
export const USER_ROLES = ['agent', 'backoffice', 'admin', 'analyst'] as const;
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
  version: number;
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
  version: number;
  created_at: Date;
  updated_at: Date;
}

export const USER_COLUMNS = 'id, name, email, roles, team_id, active, time_zone, locale, version, created_at, updated_at';
export const TEAM_COLUMNS = 'id, name, lead_user_id, version, created_at, updated_at';

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
  version: r.version,
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

// Administration -----------------------------------------------------------------------------

export interface NewUser {
  name: string;
  email: string;
  roles: UserRole[];
  teamId?: string | null;
  timeZone?: string;
  locale?: string;
}

export async function insertUser(db: Db, u: NewUser & { id?: string }): Promise<User> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (id, name, email, roles, team_id, time_zone, locale) VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'Europe/Berlin'), COALESCE($7, 'de-DE'))
     RETURNING ${USER_COLUMNS}`,
    [u.id ?? randomUUID(), u.name, u.email, u.roles, u.teamId ?? null, u.timeZone ?? null, u.locale ?? null],
  );
  return toUser(rows[0]!);
}

export async function readUserByEmail(db: Db, email: string): Promise<User | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]);
  return rows[0] && toUser(rows[0]);
}

/**
 * The user with this e-mail, made when missing, holding `role` (added when they lack it); a team
 * is set only on a user without one. Idempotent and safe under concurrent API starts. A user an
 * admin deactivated stays deactivated.
 */
export async function ensureUser(db: Db, u: { name: string; email: string; role: UserRole; teamId?: string | null }): Promise<User> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (id, name, email, roles, team_id) VALUES ($1, $2, $3, ARRAY[$4]::text[], $5)
     ON CONFLICT ((lower(email))) DO UPDATE
       SET roles = CASE WHEN $4 = ANY (users.roles) THEN users.roles ELSE users.roles || $4::text END,
           team_id = COALESCE(users.team_id, EXCLUDED.team_id),
           version = users.version + CASE WHEN $4 = ANY (users.roles) AND (users.team_id IS NOT NULL OR EXCLUDED.team_id IS NULL) THEN 0 ELSE 1 END,
           updated_at = CASE WHEN $4 = ANY (users.roles) AND (users.team_id IS NOT NULL OR EXCLUDED.team_id IS NULL) THEN users.updated_at ELSE now() END
     RETURNING ${USER_COLUMNS}`,
    [randomUUID(), u.name, u.email, u.role, u.teamId ?? null],
  );
  return toUser(rows[0]!);
}

export interface UserFilter {
  teamId?: string;
  active?: boolean;
  role?: UserRole;
}

const USER_ORDER: SortOrder = { expression: 'created_at', cast: 'timestamptz', direction: 'asc' };

export async function listUsers(db: Db, filter: UserFilter, position: Position | undefined, limit: number): Promise<{ items: User[]; next?: Position }> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (filter.teamId !== undefined) where.push(`team_id = $${params.push(filter.teamId)}`);
  if (filter.active !== undefined) where.push(`active = $${params.push(filter.active)}`);
  if (filter.role !== undefined) where.push(`$${params.push(filter.role)} = ANY (roles)`);
  if (position) where.push(after(USER_ORDER, position, params));
  params.push(limit + 1);
  const { rows } = await db.query<UserRow & { sort_value: string }>(
    `SELECT ${USER_COLUMNS}, created_at::text AS sort_value FROM users ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${orderBy(USER_ORDER)} LIMIT $${params.length}`,
    params,
  );
  const page = pageOf(rows, limit);
  return { items: page.rows.map(toUser), ...(page.next ? { next: page.next } : {}) };
}

export type UserPatch = Partial<Pick<User, 'name' | 'email' | 'roles' | 'teamId' | 'active' | 'timeZone' | 'locale'>>;

const USER_FIELDS: Record<keyof UserPatch, string> = {
  name: 'name',
  email: 'email',
  roles: 'roles',
  teamId: 'team_id',
  active: 'active',
  timeZone: 'time_zone',
  locale: 'locale',
};

/** The user locked for a change in this transaction. */
export async function lockUser(db: PoolClient, id: string): Promise<User | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] && toUser(rows[0]);
}

/** Applies the patch to a locked user and counts the version up. */
export async function updateUser(db: PoolClient, id: string, patch: UserPatch): Promise<User> {
  const params: unknown[] = [id];
  const sets = Object.entries(patch)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${USER_FIELDS[k as keyof UserPatch]} = $${params.push(v)}`);
  const { rows } = await db.query<UserRow>(
    `UPDATE users SET ${[...sets, 'version = version + 1', 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING ${USER_COLUMNS}`,
    params,
  );
  return toUser(rows[0]!);
}

/**
 * The active admins, locked: a change that would leave none (deactivating the last admin, taking
 * their role) is refused; the lock serialises two such changes.
 */
export async function lockActiveAdmins(db: PoolClient): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM users WHERE active AND 'admin' = ANY (roles) ORDER BY id FOR UPDATE`);
  return rows.map((r) => r.id);
}

// Teams --------------------------------------------------------------------------------------

export async function insertTeam(db: Db, t: { name: string; leadUserId?: string | null }): Promise<Team> {
  const { rows } = await db.query<TeamRow>(`INSERT INTO teams (id, name, lead_user_id) VALUES ($1, $2, $3) RETURNING ${TEAM_COLUMNS}`, [
    randomUUID(),
    t.name,
    t.leadUserId ?? null,
  ]);
  return toTeam(rows[0]!);
}

export async function readTeamByName(db: Db, name: string): Promise<Team | undefined> {
  const { rows } = await db.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE lower(name) = lower($1)`, [name]);
  return rows[0] && toTeam(rows[0]);
}

/** The team of this name, made when missing (idempotent; the bootstrap of configured keys and the development seed). */
export async function ensureTeam(db: Db, name: string): Promise<Team> {
  await db.query(`INSERT INTO teams (id, name) VALUES ($1, $2) ON CONFLICT ((lower(name))) DO NOTHING`, [randomUUID(), name]);
  return (await readTeamByName(db, name))!;
}

export async function listTeams(db: Db): Promise<Team[]> {
  const { rows } = await db.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams ORDER BY lower(name), id`);
  return rows.map(toTeam);
}

export async function lockTeam(db: PoolClient, id: string): Promise<Team | undefined> {
  const { rows } = await db.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] && toTeam(rows[0]);
}

export async function updateTeam(db: Db, id: string, patch: { name?: string; leadUserId?: string | null }): Promise<Team> {
  const params: unknown[] = [id];
  const sets: string[] = [];
  if (patch.name !== undefined) sets.push(`name = $${params.push(patch.name)}`);
  if (patch.leadUserId !== undefined) sets.push(`lead_user_id = $${params.push(patch.leadUserId)}`);
  const { rows } = await db.query<TeamRow>(
    `UPDATE teams SET ${[...sets, 'version = version + 1', 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING ${TEAM_COLUMNS}`,
    params,
  );
  return toTeam(rows[0]!);
}

// People in messages ---------------------------------------------------------------------------

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Where a message to a person goes: a user id (an owner, an account manager) becomes that user's
 * e-mail; anything else is an address already (a mailbox such as backoffice's, or an owner of a
 * lead taken in before owners were users).
 */
export async function addressOf(db: Db, recipient: string): Promise<string> {
  if (!USER_ID.test(recipient)) return recipient;
  const user = await readUser(db, recipient);
  if (!user) throw new Error(`message recipient ${recipient} is no user`);
  return user.email;
}

/** How a user is named in a message to someone else: "Name <e-mail>"; anything but a user id as it is. */
export async function shownAs(db: Db, person: unknown): Promise<unknown> {
  if (typeof person !== 'string' || !USER_ID.test(person)) return person;
  const user = await readUser(db, person);
  return user ? `${user.name} <${user.email}>` : person;
}
