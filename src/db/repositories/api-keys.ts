/**
 * API keys (`api_keys`): each belongs to a user; only the key's SHA-256 and its first characters
 * are kept, the key itself is shown once when issued. src/api/auth.ts resolves a presented key
 * through `findKeyByHash`; the keys routes issue, list and revoke them.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '../pool.js';
import { USER_COLUMNS, toUser, type User } from './users.js';

type Db = Pool | PoolClient;

export interface ApiKey {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface KeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const KEY_COLUMNS = 'id, user_id, name, prefix, created_at, expires_at, revoked_at, last_used_at';
const iso = (d: Date | null) => (d ? d.toISOString() : null);

const toKey = (r: KeyRow): ApiKey => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.created_at.toISOString(),
  expiresAt: iso(r.expires_at),
  revokedAt: iso(r.revoked_at),
  lastUsedAt: iso(r.last_used_at),
});

export async function insertApiKey(db: Db, k: { userId: string; name: string; sha256: string; prefix: string; expiresAt?: string | null }): Promise<ApiKey> {
  const { rows } = await db.query<KeyRow>(
    `INSERT INTO api_keys (id, user_id, name, sha256, prefix, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${KEY_COLUMNS}`,
    [randomUUID(), k.userId, k.name, k.sha256, k.prefix, k.expiresAt ?? null],
  );
  return toKey(rows[0]!);
}

/** A key known only by its hash (a configured key), added once: a key revoked since stays revoked. */
export async function ensureApiKey(db: Db, k: { userId: string; name: string; sha256: string; prefix: string }): Promise<void> {
  await db.query(`INSERT INTO api_keys (id, user_id, name, sha256, prefix) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING`, [
    randomUUID(),
    k.userId,
    k.name,
    k.sha256,
    k.prefix,
  ]);
}

/** The key with this hash and its user, whatever their state (the caller decides what a revoked key or an inactive user means). */
export async function findKeyByHash(db: Db, sha256: string): Promise<{ key: ApiKey & { sha256: string }; user: User } | undefined> {
  const { rows } = await db.query(
    `SELECT ${KEY_COLUMNS.split(', ')
      .map((c) => `k.${c}`)
      .join(', ')}, k.sha256, ${USER_COLUMNS.split(', ')
      .map((c) => `u.${c} AS u_${c}`)
      .join(', ')}
       FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.sha256 = $1`,
    [sha256],
  );
  const r = rows[0];
  if (!r) return undefined;
  const user = Object.fromEntries(USER_COLUMNS.split(', ').map((c) => [c, r[`u_${c}`]]));
  return { key: { ...toKey(r as KeyRow), sha256: r.sha256 as string }, user: toUser(user as Parameters<typeof toUser>[0]) };
}

/** Records a use, at most once a minute per key: a busy key costs one write a minute, not one per request. */
export async function touchApiKey(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [id]);
}

export async function listApiKeys(db: Db, userId: string): Promise<ApiKey[]> {
  const { rows } = await db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, [userId]);
  return rows.map(toKey);
}

export async function readApiKeyById(db: Db, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0] && toKey(rows[0]);
}

/** Revokes the key (once: a second revocation keeps the first time); undefined when the user has no such key. */
export async function revokeApiKey(db: Db, userId: string, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<KeyRow>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE user_id = $1 AND id = $2 RETURNING ${KEY_COLUMNS}`,
    [userId, id],
  );
  return rows[0] && toKey(rows[0]);
}
