import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec, ensureDevPayloadKeys, keyringFromConfig, parseKeyring, UnknownKeyError } from '../src/codec/index.js';
import { loadConfig } from '../src/config.js';

const key = () => randomBytes(32).toString('base64');
const text = (p: Payload, k: string) => Buffer.from(p.metadata![k]!).toString();

describe('the AES-256-GCM payload codec', () => {
  const original = defaultPayloadConverter.toPayload({ email: 'jane@example.com', iban: 'DE89370400440532013000' });

  it('seals a payload so that no byte of it is readable, and opens it again', async () => {
    const codec = new AesGcmPayloadCodec(parseKeyring(`k1:${key()}`));
    const [sealed] = await codec.encode([original]);
    expect(text(sealed!, 'encoding')).toBe('binary/encrypted');
    expect(text(sealed!, 'encryption-key-id')).toBe('k1');
    expect(Buffer.from(sealed!.data!).includes(Buffer.from('jane@example.com'))).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ email: 'jane@example.com', iban: 'DE89370400440532013000' });
    // A fresh IV per payload: the same value never seals to the same bytes.
    const [again] = await codec.encode([original]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
  });

  it('rotates keys: new payloads use the active key, old ones still open, a removed key is refused', async () => {
    const old = key();
    const before = new AesGcmPayloadCodec(parseKeyring(`k1:${old}`));
    const [sealedWithK1] = await before.encode([original]);
    const after = new AesGcmPayloadCodec(parseKeyring(`k1:${old},k2:${key()}`, 'k2'));
    const [sealedWithK2] = await after.encode([original]);
    expect(text(sealedWithK2!, 'encryption-key-id')).toBe('k2');
    expect(defaultPayloadConverter.fromPayload((await after.decode([sealedWithK1!]))[0]!)).toMatchObject({ email: 'jane@example.com' });
    await expect(before.decode([sealedWithK2!])).rejects.toBeInstanceOf(UnknownKeyError);
  });

  it('refuses a tampered payload and one relabelled with another key id', async () => {
    const k1 = key();
    const codec = new AesGcmPayloadCodec(parseKeyring(`k1:${k1},k2:${k1}`, 'k1'));
    const [sealed] = await codec.encode([original]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow();
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, 'encryption-key-id': Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow();
  });

  it('passes payloads that were never sealed through unchanged', async () => {
    const codec = new AesGcmPayloadCodec(parseKeyring(`k1:${key()}`));
    expect(await codec.decode([original])).toEqual([original]);
  });
});

describe('payload keys from configuration', () => {
  it('names what is wrong with a key without echoing it', () => {
    const short = Buffer.from('too short').toString('base64');
    expect(() => parseKeyring(`k1:${short}`)).toThrow(/must be 32 bytes/);
    expect(() => parseKeyring(`k1:${short}`)).not.toThrow(new RegExp(short));
    expect(() => parseKeyring(`${key()}`)).toThrow(/<id>:<base64 key>/);
    expect(() => parseKeyring(`k1:${key()}`, 'k9')).toThrow(/active payload key 'k9'/);
    expect(() => parseKeyring(`k1:${key()},k1:${key()}`)).toThrow(/twice/);
    expect(() => keyringFromConfig(loadConfig({}).codec)).toThrow(/PAYLOAD_KEYS is not set/);
    const k = key();
    expect(keyringFromConfig(loadConfig({ PAYLOAD_KEYS: `a:${key()},b:${k}` }).codec).activeKeyId).toBe('b');
  });

  it('makes a development key once, keeps it private, and never replaces a damaged one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-keys-'));
    const first = await ensureDevPayloadKeys(dir);
    expect(first.created).toBe(true);
    expect((await stat(first.file)).mode & 0o777).toBe(0o600);
    const second = await ensureDevPayloadKeys(dir);
    expect(second.created).toBe(false);
    expect(await readFile(second.file, 'utf8')).toContain(second.keyring.activeKeyId);
    expect([...second.keyring.keys.values()][0]!.equals([...first.keyring.keys.values()][0]!)).toBe(true);
    await writeFile(first.file, 'garbage');
    await expect(ensureDevPayloadKeys(dir)).rejects.toThrow();
  });
});
