/**
 * Where the payload keys come from: configuration (PAYLOAD_KEYS) everywhere, except that the
 * embedded stack generates a development key into DATA_DIR on first start.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { formatKeyring, generateKey, parseKeyring, type Keyring } from './keyring.js';

/** The configured keyring; an error that says what to set when there is none. */
export function keyringFromConfig(codec: Config['codec']): Keyring {
  if (!codec.keys) {
    throw new Error(
      'PAYLOAD_KEYS is not set: personal data in Temporal payloads must be encrypted. Set PAYLOAD_KEYS=<id>:<base64 32-byte key> (e.g. `k1:$(openssl rand -base64 32)`).',
    );
  }
  return parseKeyring(codec.keys, codec.activeKeyId);
}

/** The development key of the embedded stack: .data/payload-keys (mode 0600), made once. */
export async function ensureDevPayloadKeys(dataDir: string): Promise<{ keyring: Keyring; file: string; created: boolean }> {
  const file = path.resolve(dataDir, 'payload-keys');
  let stored: string | undefined;
  try {
    stored = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // A damaged file is an error, not a reason for a new key: the old one is needed to read history.
  if (stored !== undefined) return { keyring: parseKeyring(stored.trim()), file, created: false };
  const keyring = generateKey(`dev-${new Date().toISOString().slice(0, 10)}`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, formatKeyring(keyring) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return { keyring, file, created: true };
}
