/**
 * Development users of the embedded stack: a team "Sales" with a user per role (two agents, so
 * round-robin shows), each with an API key generated on first start, kept in .data/dev-keys.json
 * (mode 0600) and handed to the API only as hashes, where they become users (src/api/bootstrap.ts).
 * The test harness seeds the same users in each test schema.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Role } from '../config.js';
import { hashKey } from '../api/auth.js';
import type { BootstrapKey } from '../api/bootstrap.js';

export const DEV_TEAM = 'Sales';

/** The development users by the name of their key in dev-keys.json. */
export const DEV_USERS = {
  agent: { role: 'agent', name: 'Anna Agent', email: 'anna.agent@example.com' },
  agent2: { role: 'agent', name: 'Ben Agent', email: 'ben.agent@example.com' },
  backoffice: { role: 'backoffice', name: 'Bea Backoffice', email: 'bea.backoffice@example.com', teamLead: true },
  admin: { role: 'admin', name: 'Ada Admin', email: 'ada.admin@example.com' },
  analyst: { role: 'analyst', name: 'Alex Analyst', email: 'alex.analyst@example.com' },
} as const satisfies Record<string, { role: Role; name: string; email: string; teamLead?: boolean }>;
export type DevUser = keyof typeof DEV_USERS;
export const DEV_USER_NAMES = Object.keys(DEV_USERS) as DevUser[];

export type DevKeys = Record<DevUser, string>;

export function generateDevKeys(prefix = 'crm'): DevKeys {
  return Object.fromEntries(DEV_USER_NAMES.map((u) => [u, `${prefix}_${u}_${randomBytes(24).toString('base64url')}`])) as DevKeys;
}

export async function ensureDevKeys(dataDir: string): Promise<{ keys: DevKeys; file: string; created: boolean }> {
  const file = path.resolve(dataDir, 'dev-keys.json');
  let known: Partial<DevKeys> = {};
  try {
    known = JSON.parse(await readFile(file, 'utf8')) as Partial<DevKeys>;
  } catch {
    // missing or unreadable: generate below
  }
  const valid = (k: unknown): k is string => typeof k === 'string' && k.length >= 20;
  if (DEV_USER_NAMES.every((u) => valid(known[u]))) {
    await chmod(file, 0o600);
    return { keys: known as DevKeys, file, created: false };
  }
  // Keep the keys a developer already has; make the missing ones (a user added since).
  const fresh = generateDevKeys();
  const keys = Object.fromEntries(DEV_USER_NAMES.map((u) => [u, valid(known[u]) ? known[u] : fresh[u]])) as DevKeys;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return { keys, file, created: true };
}

/** The development users with their keys as the API bootstraps them. */
export function devKeyEntries(keys: DevKeys): BootstrapKey[] {
  return DEV_USER_NAMES.map((u) => {
    const d: { role: Role; name: string; email: string; teamLead?: boolean } = DEV_USERS[u];
    return {
      role: d.role,
      actor: d.email,
      name: d.name,
      email: d.email,
      team: DEV_TEAM,
      teamLead: d.teamLead ?? false,
      sha256: hashKey(keys[u]),
      keyName: 'development',
    };
  });
}
