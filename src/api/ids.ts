/**
 * Ids the API derives from an Idempotency-Key's claim, so a repeat of a request names the same
 * lead, offer, change or campaign as the first one did.
 */
import { createHash } from 'node:crypto';

/**
 * A stable UUID from a seed: SHA-256 laid out as a UUID with the RFC 9562 variant and the given
 * version nibble (each kind of id keeps the nibble it was first issued with, so ids stay the same).
 */
export function uuidFromKey(seed: string, version: '4' | '5' | '8' = '4'): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${version}${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
