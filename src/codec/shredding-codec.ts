/**
 * The payload codec with crypto-shredding: a payload about a person is sealed with that person's
 * data key (src/codec/subject-keys.ts), every other payload with the shared key as before.
 *
 * Whom a payload is about: the first `customerId` in the JSON value (breadth first, a few levels
 * deep: workflow inputs, activity inputs and results, states, update arguments), else the first
 * `leadId`. A payload that names both is the customer's (a lead of a customer is erased with the
 * customer). A payload that names nobody keeps the shared key.
 *
 * After erasure a subject's key is destroyed: its payloads fail to decode with "key destroyed by
 * erasure" (the codec endpoint and the Temporal UI show that instead of data). What is still sealed
 * for the subject afterwards (the erasure's own bookkeeping: ids, statuses) goes under the shared
 * key, and only when it carries no personal value: a payload with a non-erased personal field for an
 * erased subject is refused rather than written where the shared key can read it.
 *
 * Format: as the shared codec, plus metadata `encryption-key-kind: subject`; payloads without it
 * (every history recorded before) decode with the shared keyring as before.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Keyring } from './keyring.js';
import { AesGcmPayloadCodec, isSealed, keyIdOf, open, seal } from './payload-codec.js';
import { KeyDestroyedError, type Subject, type SubjectKeyStore } from './subject-keys.js';

export const KEY_KIND = 'encryption-key-kind';
const SUBJECT_KIND = 'subject';
const untext = new TextDecoder();
const MAX_DEPTH = 4;

/** Field names whose values are personal (src/domain/contact-data.ts and the customer record). */
const PERSONAL_FIELDS = new Set(['name', 'email', 'phone', 'address', 'birthDate', 'iban', 'bankAccountIban', 'company', 'recipient']);
const ERASED_VALUE = /^(erased|Erased)/;

/** The subject a JSON value is about, if any. */
export function subjectOf(value: unknown): Subject | undefined {
  let level: unknown[] = [value];
  let lead: string | undefined;
  for (let depth = 0; depth < MAX_DEPTH && level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const v of level) {
      if (!v || typeof v !== 'object') continue;
      if (Array.isArray(v)) {
        next.push(...v.slice(0, 50));
        continue;
      }
      const o = v as Record<string, unknown>;
      if (typeof o.customerId === 'string' && o.customerId) return `customer:${o.customerId}`;
      if (!lead && typeof o.leadId === 'string' && o.leadId) lead = o.leadId;
      for (const child of Object.values(o)) if (child && typeof child === 'object') next.push(child);
    }
    level = next;
  }
  return lead ? `lead:${lead}` : undefined;
}

/** True when a personal field (at any depth) holds a value that erasure has not replaced. */
export function carriesPersonalValue(value: unknown, depth = 0): boolean {
  if (!value || typeof value !== 'object' || depth > 8) return false;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (PERSONAL_FIELDS.has(k) && v !== null && v !== undefined && !(typeof v === 'string' && ERASED_VALUE.test(v))) return true;
    if (v && typeof v === 'object' && carriesPersonalValue(v, depth + 1)) return true;
  }
  return false;
}

function jsonOf(p: Payload): unknown {
  const encoding = p.metadata?.encoding;
  if (!encoding || untext.decode(encoding) !== 'json/plain' || !p.data) return undefined;
  try {
    return JSON.parse(untext.decode(p.data));
  } catch {
    return undefined;
  }
}

export class ShreddingPayloadCodec implements PayloadCodec {
  private readonly shared: AesGcmPayloadCodec;

  constructor(
    private readonly keyring: Keyring,
    readonly keys: SubjectKeyStore,
  ) {
    this.shared = new AesGcmPayloadCodec(keyring);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (p) => {
        const value = jsonOf(p);
        const subject = value === undefined ? undefined : subjectOf(value);
        if (subject) {
          const entry = await this.keys.forSubject(subject);
          if (entry.key) return seal(p, entry.key, entry.keyId, { [KEY_KIND]: SUBJECT_KIND });
          if (carriesPersonalValue(value)) throw new KeyDestroyedError(entry.keyId);
        }
        const [sealed] = await this.shared.encode([p]);
        return sealed!;
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (p) => {
        if (!isSealed(p)) return p;
        const kind = p.metadata?.[KEY_KIND];
        if (!kind || untext.decode(kind) !== SUBJECT_KIND) {
          const [opened] = await this.shared.decode([p]);
          return opened!;
        }
        const keyId = keyIdOf(p);
        return open(p, await this.keys.byId(keyId), keyId);
      }),
    );
  }
}
