/**
 * Development API keys of the embedded stack: one per role, generated on first start, kept in
 * .data/dev-keys.json (mode 0600) and handed to the API only as hashes.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ROLES, type ApiKeyEntry, type Role } from '../config.js';
import { hashKey } from '../api/auth.js';

export type DevKeys = Record<Role, string>;

export async function ensureDevKeys(dataDir: string): Promise<{ keys: DevKeys; file: string; created: boolean }> {
  const file = path.resolve(dataDir, 'dev-keys.json');
  try {
    const keys = JSON.parse(await readFile(file, 'utf8')) as DevKeys;
    if (ROLES.every((r) => typeof keys[r] === 'string' && keys[r].length >= 20)) {
      await chmod(file, 0o600);
      return { keys, file, created: false };
    }
  } catch {
    // missing or unreadable: generate below
  }
  const keys = Object.fromEntries(ROLES.map((r) => [r, `crm_${r}_${randomBytes(24).toString('base64url')}`])) as DevKeys;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return { keys, file, created: true };
}

export function devKeyEntries(keys: DevKeys): ApiKeyEntry[] {
  return ROLES.map((role) => ({ role, actor: `dev-${role}`, sha256: hashKey(keys[role]) }));
}
