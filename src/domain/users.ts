/**
 * The people who work the CRM: users (name, e-mail, roles, team, active, time zone, locale),
 * teams (name, lead) and their API keys, as the API accepts them, and the rules an admin's change
 * must keep: a user is never deleted, only deactivated, and the last active admin stays an active
 * admin. Every actor the processes record is a user id.
 */
import { z } from 'zod';
import { emailSchema, localeSchema, personNameSchema } from './contact-data.js';
import { dateTimeSchema, uuidSchema } from './formats.js';
import { timeZoneSchema } from './retention.js';

export const USER_ROLE_VALUES = ['agent', 'backoffice', 'admin', 'analyst'] as const;

const rolesSchema = z
  .array(z.enum(USER_ROLE_VALUES, { message: `must be one of ${USER_ROLE_VALUES.join(', ')}` }))
  .min(1, 'a user needs at least one role')
  .max(USER_ROLE_VALUES.length)
  .refine((roles) => new Set(roles).size === roles.length, 'names a role twice');

const teamIdSchema = uuidSchema('must be a team id (UUID)');
const versionSchema = z.number().int().min(1);

export const newUserSchema = z
  .object({
    name: personNameSchema,
    email: emailSchema,
    roles: rolesSchema,
    teamId: teamIdSchema.nullable().optional(),
    timeZone: timeZoneSchema.optional(),
    locale: localeSchema.optional(),
  })
  .strict();
export type NewUserRequest = z.infer<typeof newUserSchema>;

export const userPatchSchema = z
  .object({
    /** The version the change is based on; or send it as `If-Match`. */
    version: versionSchema.optional(),
    name: personNameSchema.optional(),
    email: emailSchema.optional(),
    roles: rolesSchema.optional(),
    teamId: teamIdSchema.nullable().optional(),
    active: z.boolean().optional(),
    timeZone: timeZoneSchema.optional(),
    locale: localeSchema.optional(),
  })
  .strict();
export type UserPatchRequest = z.infer<typeof userPatchSchema>;

const teamNameSchema = z.string().trim().min(1, 'must not be empty').max(100, 'has at most 100 characters');
const leadUserIdSchema = uuidSchema('must be a user id (UUID)');

export const newTeamSchema = z.object({ name: teamNameSchema, leadUserId: leadUserIdSchema.nullable().optional() }).strict();
export const teamPatchSchema = z
  .object({ version: versionSchema.optional(), name: teamNameSchema.optional(), leadUserId: leadUserIdSchema.nullable().optional() })
  .strict();

export const newKeySchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(100, 'has at most 100 characters'),
    /** When the key stops working; none: it works until revoked. */
    expiresAt: dateTimeSchema().optional(),
  })
  .strict();

/** Characters of a key kept to tell keys apart (`crm_` and eight of the random part). */
export const KEY_PREFIX_LENGTH = 12;

/**
 * Why a change to a user is refused, or undefined: deactivating the last active admin, or taking
 * the admin role from them, would leave nobody to manage users.
 */
export function refuseUserChange(
  user: { id: string; active: boolean; roles: readonly string[] },
  change: { active?: boolean; roles?: readonly string[] },
  activeAdminIds: readonly string[],
): string | undefined {
  const isActiveAdmin = user.active && user.roles.includes('admin');
  if (!isActiveAdmin) return undefined;
  const staysActiveAdmin = (change.active ?? user.active) && (change.roles ?? user.roles).includes('admin');
  if (staysActiveAdmin) return undefined;
  if (activeAdminIds.some((id) => id !== user.id)) return undefined;
  return 'this user is the last active admin: make another user an admin first';
}

/** The fields of a user that a change moved, with their old and new values (for the audit). */
export function changedFields<T extends Record<string, unknown>>(
  before: T,
  patch: Partial<T>,
): Array<{ field: keyof T & string; oldValue: unknown; newValue: unknown }> {
  return Object.entries(patch)
    .filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(before[k]))
    .map(([k, v]) => ({ field: k as keyof T & string, oldValue: before[k], newValue: v }));
}

/** What is wrong with a named team or user: the API's answers and an import's rejections say the same. */
export const NO_TEAM = (id: string) => `no team with id ${id}`;
export const NO_USER = (id: string) => `no user with id ${id}`;
export const INACTIVE_USER = (id: string) => `user ${id} is deactivated; only an active user can take this on`;
