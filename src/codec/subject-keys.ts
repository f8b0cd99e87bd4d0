/**
 * Crypto-shredding: a data key per person (a customer, or a lead with its own GDPR path), so that
 * erasing the person destroys their key and with it every copy of their data in Temporal
 * histories, running or closed, whoever holds the shared keys.
 *
 * A data key is 32 random bytes, stored in `subject_keys` (migration 0022) wrapped with the active
 * shared key (AES-256-GCM, the key id as additional data); its own id is random, so payload
 * metadata names no person. Keys are cached in-process: in steady state a payload costs one map
 * lookup, no database round trip. A cached key lives `ttlMs` (default one minute); the process
 * that erases forgets it at once, others at the latest when the TTL runs out, and each process
 * that LISTENs (`listen()`) forgets it on the erasure's NOTIFY.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Keyring } from './keyring.js';

/** Anything that runs a query: a pool, or a client inside the erasure's transaction. */
export interface Queryable {
  query: pg.Pool['query'];
}

/** The NOTIFY channel on which an erasure tells every process to forget a destroyed key. */
export const KEY_DESTROYED_CHANNEL = 'subject_key_destroyed';

export type Subject = `customer:${string}` | `lead:${string}`;

export class KeyDestroyedError extends Error {
  constructor(keyId: string) {
    super(`payload key '${keyId}' destroyed by erasure: the personal data it sealed can no longer be read`);
    this.name = 'KeyDestroyedError';
  }
}

interface Entry {
  keyId: string;
  subject: string;
  /** undefined: destroyed by erasure. */
  key?: Buffer;
  until: number;
}

const text = new TextEncoder();

function wrap(master: Buffer, masterId: string, dataKey: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', master, iv);
  cipher.setAAD(text.encode(`subject-key:${masterId}`));
  return Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
}

function unwrap(master: Buffer, masterId: string, wrapped: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', master, wrapped.subarray(0, 12));
  decipher.setAAD(text.encode(`subject-key:${masterId}`));
  decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
  return Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - 16)), decipher.final()]);
}

interface Row {
  key_id: string;
  subject: string;
  wrap_key_id: string | null;
  wrapped: Buffer | null;
}

export class SubjectKeyStore {
  private readonly bySubject = new Map<string, Entry>();
  private readonly byKeyId = new Map<string, Entry>();
  /** Lookups under way, so concurrent payloads of one subject share one round trip. */
  private readonly pending = new Map<string, Promise<Entry>>();
  /** Database round trips made (for tests and the benchmark of the steady state). */
  lookups = 0;

  constructor(
    private readonly db: Queryable,
    private readonly keyring: Keyring,
    private readonly ttlMs = 60_000,
  ) {}

  private remember(row: Row): Entry {
    const master = row.wrap_key_id ? this.keyring.keys.get(row.wrap_key_id) : undefined;
    if (row.wrapped && !master) throw new Error(`subject key '${row.key_id}' is wrapped with shared key '${row.wrap_key_id}', which is not configured`);
    const entry: Entry = {
      keyId: row.key_id,
      subject: row.subject,
      ...(row.wrapped ? { key: unwrap(master!, row.wrap_key_id!, row.wrapped) } : {}),
      until: Date.now() + this.ttlMs,
    };
    this.bySubject.set(entry.subject, entry);
    this.byKeyId.set(entry.keyId, entry);
    return entry;
  }

  private once(token: string, load: () => Promise<Entry>): Promise<Entry> {
    let p = this.pending.get(token);
    if (!p) {
      p = load().finally(() => this.pending.delete(token));
      this.pending.set(token, p);
    }
    return p;
  }

  /** The subject's key (made on first use); `key` undefined when erasure destroyed it. */
  async forSubject(subject: Subject): Promise<Entry> {
    const cached = this.bySubject.get(subject);
    if (cached && cached.until > Date.now()) return cached;
    return this.once(`s:${subject}`, async () => {
      this.lookups++;
      const masterId = this.keyring.activeKeyId;
      const keyId = `sk-${randomBytes(12).toString('base64url')}`;
      const { rows } = await this.db.query<Row>(
        `WITH made AS (
           INSERT INTO subject_keys (subject, key_id, wrap_key_id, wrapped) VALUES ($1, $2, $3, $4)
           ON CONFLICT (subject) DO NOTHING RETURNING key_id, subject, wrap_key_id, wrapped)
         SELECT * FROM made UNION ALL SELECT key_id, subject, wrap_key_id, wrapped FROM subject_keys WHERE subject = $1`,
        [subject, keyId, masterId, wrap(this.keyring.keys.get(masterId)!, masterId, randomBytes(32))],
      );
      return this.remember(rows[0]!);
    });
  }

  /** The key a payload names; throws KeyDestroyedError after erasure. */
  async byId(keyId: string): Promise<Buffer> {
    let entry = this.byKeyId.get(keyId);
    if (!entry || entry.until <= Date.now()) {
      entry = await this.once(`k:${keyId}`, async () => {
        this.lookups++;
        const { rows } = await this.db.query<Row>('SELECT key_id, subject, wrap_key_id, wrapped FROM subject_keys WHERE key_id = $1', [keyId]);
        // A key id we never issued is as unreadable as a destroyed one, and says so.
        if (!rows[0]) throw new Error(`payload was sealed with subject key '${keyId}', which this database does not know`);
        return this.remember(rows[0]);
      });
    }
    if (!entry.key) throw new KeyDestroyedError(keyId);
    return entry.key;
  }

  /** Drops a destroyed key from this process's cache (the erasing process, or on NOTIFY). */
  forget(subjectOrKeyId: string): void {
    const entry = this.bySubject.get(subjectOrKeyId) ?? this.byKeyId.get(subjectOrKeyId);
    if (!entry) return;
    this.bySubject.delete(entry.subject);
    this.byKeyId.delete(entry.keyId);
  }

  /**
   * Forgets keys as erasures NOTIFY (`destroySubjectKeys`), so a destroyed key stops opening payloads
   * at once in this process too. Returns a stop function.
   */
  async listen(client: pg.Client): Promise<() => Promise<void>> {
    client.on('notification', (msg) => {
      if (msg.channel === KEY_DESTROYED_CHANNEL && msg.payload) for (const s of msg.payload.split(',')) this.forget(s);
    });
    await client.query(`LISTEN ${KEY_DESTROYED_CHANNEL}`);
    return async () => {
      await client.end().catch(() => undefined);
    };
  }
}

/**
 * Destroys the keys of the given subjects (inside the erasure's transaction): the wrapped key is
 * overwritten with nothing, so no backup of this row taken afterwards holds it. A subject that never
 * had a key gets a destroyed one, so nothing can be sealed for it later by mistake. Returns how many
 * keys were destroyed; NOTIFY tells every listening process when the transaction commits.
 */
export async function destroySubjectKeys(db: Queryable, subjects: string[], workflowId: string): Promise<number> {
  if (subjects.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO subject_keys (subject, key_id, wrap_key_id, wrapped, destroyed_at, destroyed_by)
     SELECT s, 'sk-' || replace(gen_random_uuid()::text, '-', ''), NULL, NULL, now(), $2 FROM unnest($1::text[]) AS s
     ON CONFLICT (subject) DO UPDATE SET wrapped = NULL, wrap_key_id = NULL, destroyed_at = COALESCE(subject_keys.destroyed_at, now()),
       destroyed_by = COALESCE(subject_keys.destroyed_by, EXCLUDED.destroyed_by)`,
    [subjects, workflowId],
  );
  await db.query('SELECT pg_notify($1, $2)', [KEY_DESTROYED_CHANNEL, subjects.join(',')]);
  return rowCount ?? 0;
}
