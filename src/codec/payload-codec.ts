/**
 * The payload codec: every payload that leaves a client or worker for Temporal is sealed with
 * AES-256-GCM. Histories, memos, query and update results hold only ciphertext; whoever holds the keys (our client, our worker, the codec
 * endpoint for authorised operators) reads them.
 *
 * Sealed payload: metadata {encoding: binary/encrypted, encryption-cipher, encryption-key-id},
 * data = 12-byte IV ‖ ciphertext ‖ 16-byte tag of the original payload (its metadata and data).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import type { Keyring } from './keyring.js';

export const ENCODING = 'binary/encrypted';
export const CIPHER = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const text = new TextEncoder();
const untext = new TextDecoder();

function b64(bytes: Uint8Array | null | undefined): string {
  return Buffer.from(bytes ?? new Uint8Array()).toString('base64');
}

/** The original payload as bytes: small JSON envelope, so no protobuf dependency at run time. */
function serialise(p: Payload): Buffer {
  const metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)]));
  return Buffer.from(JSON.stringify({ m: metadata, d: b64(p.data) }), 'utf8');
}

function deserialise(bytes: Buffer): Payload {
  const parsed = JSON.parse(bytes.toString('utf8')) as { m: Record<string, string>; d: string };
  return {
    metadata: Object.fromEntries(Object.entries(parsed.m).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(parsed.d, 'base64')),
  };
}

export class UnknownKeyError extends Error {
  constructor(keyId: string) {
    super(`payload was sealed with key '${keyId}', which is not configured`);
    this.name = 'UnknownKeyError';
  }
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keyring.activeKeyId;
    return payloads.map((p) => seal(p, this.keyring.keys.get(keyId)!, keyId));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (!isSealed(p)) return p;
      const keyId = keyIdOf(p);
      const key = this.keyring.keys.get(keyId);
      if (!key) throw new UnknownKeyError(keyId);
      return open(p, key, keyId);
    });
  }
}

export function isSealed(p: Payload): boolean {
  const encoding = p.metadata?.encoding;
  return !!encoding && untext.decode(encoding) === ENCODING;
}

export function keyIdOf(p: Payload): string {
  const keyIdBytes = p.metadata?.['encryption-key-id'];
  return keyIdBytes ? untext.decode(keyIdBytes) : '';
}

/** Seals one payload with `key`; `extra` metadata (in clear) says which kind of key. */
export function seal(p: Payload, key: Buffer, keyId: string, extra: Record<string, string> = {}): Payload {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  // The key id is bound to the ciphertext: a payload relabelled with another key id fails.
  cipher.setAAD(text.encode(keyId));
  const sealed = Buffer.concat([iv, cipher.update(serialise(p)), cipher.final(), cipher.getAuthTag()]);
  return {
    metadata: {
      encoding: text.encode(ENCODING),
      'encryption-cipher': text.encode(CIPHER),
      'encryption-key-id': text.encode(keyId),
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, text.encode(v)])),
    },
    data: new Uint8Array(sealed),
  };
}

export function open(p: Payload, key: Buffer, keyId: string): Payload {
  const data = Buffer.from(p.data ?? new Uint8Array());
  if (data.length < IV_BYTES + TAG_BYTES) throw new Error('sealed payload is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
  decipher.setAAD(text.encode(keyId));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  return deserialise(Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]));
}

/**
 * The data converter of every client and worker. Failure messages stay in clear text (encoding
 * them needs a failure converter inside the workflow bundle): business failures therefore name
 * fields and reasons, never values.
 */
export function createDataConverter(keyring: Keyring, codec: PayloadCodec = new AesGcmPayloadCodec(keyring)): DataConverter {
  return { payloadCodecs: [codec] };
}
