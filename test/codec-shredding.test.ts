/**
 * Crypto-shredding codec (src/codec/shredding-codec.ts, subject-keys.ts): a payload about a person
 * is sealed with that person's data key, erasure destroys the key and the payload then fails to
 * decode with "destroyed by erasure"; payloads of nobody and histories sealed before stay on the
 * shared key; in steady state no payload costs a database round trip.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  carriesPersonalValue,
  destroySubjectKeys,
  generateKey,
  KeyDestroyedError,
  ShreddingPayloadCodec,
  subjectOf,
  SubjectKeyStore,
} from '../src/codec/index.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { uniqueId } from './support/harness.js';

const meta = (p: Payload, k: string) => (p.metadata?.[k] ? Buffer.from(p.metadata[k]!).toString() : undefined);
const keyring = generateKey('shared-1');
let pool: Pool;

beforeAll(async () => {
  const schema = uniqueId('t_shred');
  await migrate({ connectionString: inject('pgUrl'), schema });
  pool = createPool({ connectionString: inject('pgUrl'), schema, max: 3 });
});
afterAll(async () => {
  await pool?.end();
});

describe('whom a payload is about', () => {
  it('finds customerId first, else leadId, a few levels deep; nobody when neither is there', () => {
    expect(subjectOf({ customerId: 'c1', request: { name: 'x' } })).toBe('customer:c1');
    expect(subjectOf({ row: { leadId: 'l1', lead: { customerId: 'c2' } } })).toBe('customer:c2');
    expect(subjectOf({ leadId: 'l1', name: 'x' })).toBe('lead:l1');
    expect(subjectOf([{ a: { leadId: 'l2' } }])).toBe('lead:l2');
    expect(subjectOf({ name: 'x' })).toBeUndefined();
    expect(subjectOf('Onboarding')).toBeUndefined();
  });

  it('tells personal values from erased ones', () => {
    expect(carriesPersonalValue({ customerId: 'c', requestId: 'r', status: 'erased' })).toBe(false);
    expect(carriesPersonalValue({ customer: { name: 'Erased customer', email: 'erased-c@erased.invalid', phone: null } })).toBe(false);
    expect(carriesPersonalValue({ customer: { email: 'jane@example.com' } })).toBe(true);
  });
});

describe('the crypto-shredding codec', () => {
  it("seals a person's payloads with their key, and after erasure they fail to decode with a clear error", async () => {
    const store = new SubjectKeyStore(pool, keyring);
    const codec = new ShreddingPayloadCodec(keyring, store);
    const customerId = randomUUID();
    const value = { customerId, name: 'Jane Shred', email: 'jane.shred@example.com', iban: 'DE89370400440532013000' };
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
    expect(meta(sealed!, 'encryption-key-kind')).toBe('subject');
    const keyId = meta(sealed!, 'encryption-key-id')!;
    // The key id names nobody: no customer id in the history's metadata.
    expect(keyId).toMatch(/^sk-/);
    expect(keyId).not.toContain(customerId);
    expect(Buffer.from(sealed!.data!).includes(Buffer.from('jane.shred'))).toBe(false);
    // The shared key alone cannot open it, and a fresh process (empty cache) can.
    await expect(new AesGcmPayloadCodec(keyring).decode([sealed!])).rejects.toThrow();
    const fresh = new ShreddingPayloadCodec(keyring, new SubjectKeyStore(pool, keyring));
    expect(defaultPayloadConverter.fromPayload((await fresh.decode([sealed!]))[0]!)).toEqual(value);

    // Erasure destroys the key; the NOTIFY-less process forgets it explicitly (others by NOTIFY or TTL).
    expect(await destroySubjectKeys(pool, [`customer:${customerId}`], 'gdpr-erasure-test')).toBe(1);
    store.forget(`customer:${customerId}`);
    await expect(codec.decode([sealed!])).rejects.toThrow(KeyDestroyedError);
    await expect(codec.decode([sealed!])).rejects.toThrow(/destroyed by erasure/);
    const { rows } = await pool.query('SELECT wrapped, destroyed_by FROM subject_keys WHERE key_id = $1', [keyId]);
    expect(rows[0]).toEqual({ wrapped: null, destroyed_by: 'gdpr-erasure-test' });

    // After erasure: the erasure's own ids go under the shared key; a personal value is refused.
    const [bookkeeping] = await codec.encode([defaultPayloadConverter.toPayload({ customerId, status: 'erased', customer: { name: 'Erased customer' } })]);
    expect(meta(bookkeeping!, 'encryption-key-kind')).toBeUndefined();
    expect(meta(bookkeeping!, 'encryption-key-id')).toBe('shared-1');
    await expect(codec.encode([defaultPayloadConverter.toPayload({ customerId, email: 'jane.shred@example.com' })])).rejects.toThrow(KeyDestroyedError);
  });

  it('keeps payloads of nobody, and histories sealed before, on the shared key', async () => {
    const codec = new ShreddingPayloadCodec(keyring, new SubjectKeyStore(pool, keyring));
    const [plain] = await codec.encode([defaultPayloadConverter.toPayload({ campaignId: 'c', name: 'Spring' })]);
    expect(meta(plain!, 'encryption-key-id')).toBe('shared-1');
    expect(meta(plain!, 'encryption-key-kind')).toBeUndefined();
    // A payload of the old codec (no key kind) decodes as before.
    const [old] = await new AesGcmPayloadCodec(keyring).encode([defaultPayloadConverter.toPayload({ customerId: 'old', name: 'Old Run' })]);
    expect(defaultPayloadConverter.fromPayload((await codec.decode([old!]))[0]!)).toEqual({ customerId: 'old', name: 'Old Run' });
  });

  it('makes one key per person, one lookup per person and process, and no round trip per payload in steady state', async () => {
    const store = new SubjectKeyStore(pool, keyring);
    const codec = new ShreddingPayloadCodec(keyring, store);
    const customerId = randomUUID();
    const payloads = Array.from({ length: 200 }, (_, i) => defaultPayloadConverter.toPayload({ customerId, step: i }));
    // Concurrent first uses share one round trip and one key.
    const sealed = await codec.encode(payloads);
    expect(new Set(sealed.map((p) => meta(p, 'encryption-key-id'))).size).toBe(1);
    expect(store.lookups).toBe(1);
    await codec.decode(sealed);
    await codec.encode(payloads);
    expect(store.lookups).toBe(1);
    // Another process makes no second key for the same person.
    const other = new ShreddingPayloadCodec(keyring, new SubjectKeyStore(pool, keyring));
    const [again] = await other.encode([payloads[0]!]);
    expect(meta(again!, 'encryption-key-id')).toBe(meta(sealed[0]!, 'encryption-key-id'));
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM subject_keys WHERE subject = $1', [`customer:${customerId}`]);
    expect(rows[0].n).toBe(1);
  });
});
