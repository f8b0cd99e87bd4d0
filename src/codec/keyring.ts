/**
 * Keys of the payload codec. Every key has an id; new payloads are sealed with the active key and
 * carry its id in their metadata, so older keys stay configured for reading until their payloads
 * have aged out of history (rotation without re-encryption).
 */
import { randomBytes } from 'node:crypto';

export interface Keyring {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses `id:base64key,id2:base64key` (each key 32 bytes, AES-256). Throws an error that names the
 * problem but never echoes key material.
 */
export function parseKeyring(spec: string, activeKeyId?: string): Keyring {
  const keys = new Map<string, Buffer>();
  for (const [i, part] of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .entries()) {
    const sep = part.indexOf(':');
    const id = sep > 0 ? part.slice(0, sep) : '';
    if (!KEY_ID.test(id)) throw new Error(`payload key #${i + 1}: expected <id>:<base64 key> with an id of A-Z a-z 0-9 . _ -`);
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (key.length !== 32) throw new Error(`payload key '${id}': must be 32 bytes (base64), got ${key.length}`);
    if (keys.has(id)) throw new Error(`payload key '${id}' is configured twice`);
    keys.set(id, key);
  }
  if (keys.size === 0) throw new Error('no payload encryption key configured');
  const active = activeKeyId ?? [...keys.keys()].at(-1)!;
  if (!keys.has(active)) throw new Error(`the active payload key '${active}' is not among the configured keys`);
  return { activeKeyId: active, keys };
}

export function formatKeyring(keyring: Keyring): string {
  return [...keyring.keys].map(([id, key]) => `${id}:${key.toString('base64')}`).join(',');
}

export function generateKey(id: string): Keyring {
  return { activeKeyId: id, keys: new Map([[id, randomBytes(32)]]) };
}
