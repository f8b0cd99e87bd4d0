/**
 * API keys, shared by the operational API and the analytics API (each with its own keys):
 * a key is known only by its SHA-256, and a presented key is compared in constant time against
 * every configured hash, so timing reveals neither which key nor how much of it matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface KeyEntry<R extends string = string> {
  role: R;
  actor: string;
  sha256: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function createKeyVerifier<R extends string>(entries: Array<KeyEntry<R>>) {
  const hashes = entries.map((e) => ({ digest: Buffer.from(e.sha256, 'hex'), principal: { role: e.role, actor: e.actor } }));
  return (presented: string): { role: R; actor: string } | undefined => {
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: { role: R; actor: string } | undefined;
    for (const h of hashes) {
      if (timingSafeEqual(digest, h.digest) && !found) found = h.principal;
    }
    return found;
  };
}

/** Parses `Authorization: Bearer <key>`; undefined when the header is missing or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}
