/**
 * The configured keys become users: at API start each API_KEYS entry (role, actor, sha256) is a
 * user with that role (e-mail and name from the actor) holding that key hash, so a deployment
 * configured with keys (docker-compose, production) has its first admin without a database
 * session. Idempotent: a second start, or a second API instance, changes nothing; a key an admin
 * revoked stays revoked and a user an admin deactivated stays deactivated. `npm start` and the
 * test harness seed their users the same way, with names, e-mail addresses and a team.
 */
import type { ApiKeyEntry } from '../config.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { ensureApiKey } from '../db/repositories/api-keys.js';
import { ensureTeam, ensureUser, updateTeam, type User } from '../db/repositories/users.js';

export interface BootstrapKey extends ApiKeyEntry {
  /** Defaults to the actor. */
  name?: string;
  /** Defaults to the actor when it is an e-mail address, else `<actor>@localhost`. */
  email?: string;
  /** A team (by name, made when missing) for a user who has none yet. */
  team?: string;
  /** This user leads the team when it has no lead yet. */
  teamLead?: boolean;
  /** The key's name in the user's key list. */
  keyName?: string;
}

const looksLikeEmail = (v: string) => /^[^@\s]+@[^@\s]+$/.test(v);

export function bootstrapEmail(entry: Pick<BootstrapKey, 'actor' | 'email'>): string {
  return entry.email ?? (looksLikeEmail(entry.actor) ? entry.actor : `${entry.actor.replace(/[^A-Za-z0-9._-]/g, '-')}@localhost`);
}

/** Makes each entry a user holding its key; answers the users in the entries' order. */
export async function bootstrapUsers(pool: Pool, entries: BootstrapKey[]): Promise<User[]> {
  const users: User[] = [];
  for (const entry of entries) {
    users.push(
      await inTransaction(pool, async (db) => {
        const team = entry.team ? await ensureTeam(db, entry.team) : undefined;
        const user = await ensureUser(db, { name: entry.name ?? entry.actor, email: bootstrapEmail(entry), role: entry.role, teamId: team?.id });
        if (team && entry.teamLead && !team.leadUserId) await updateTeam(db, team.id, { leadUserId: user.id });
        await ensureApiKey(db, { userId: user.id, name: entry.keyName ?? 'configured (API_KEYS)', sha256: entry.sha256, prefix: '' });
        return user;
      }),
    );
  }
  return users;
}
