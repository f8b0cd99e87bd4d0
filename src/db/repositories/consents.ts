/**
 * Consent (`consent_events`, append-only: the database refuses UPDATE and DELETE) and the
 * unsubscribe links of marketing messages (`unsubscribe_tokens`, only a SHA-256 of each token).
 * The current state per channel and purpose is the latest row; every row is also an audit entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from '../pool.js';
import { writeAudit } from './audit-log.js';
import {
  CONSENT_CHANNELS,
  CONSENT_PURPOSES,
  CONSENT_TEXTS,
  UNSUBSCRIBE_LINK_VALIDITY_MS,
  type ConsentChangeInput,
  type ConsentChannel,
  type ConsentEntry,
} from '../../domain/consent.js';

interface ConsentRow {
  id: string;
  channel: ConsentEntry['channel'];
  purpose: ConsentEntry['purpose'];
  action: ConsentEntry['action'];
  method: string;
  text_version: string | null;
  source: string;
  confirmation: Record<string, unknown> | null;
  occurred_at: Date;
  recorded_at: Date;
  recorded_by: string;
  workflow_id: string | null;
}

const COLUMNS = 'id, channel, purpose, action, method, text_version, source, confirmation, occurred_at, recorded_at, recorded_by, workflow_id';

function entryOf(r: ConsentRow): ConsentEntry {
  return {
    id: r.id,
    channel: r.channel,
    purpose: r.purpose,
    action: r.action,
    method: r.method,
    textVersion: r.text_version,
    text: r.text_version ? ((CONSENT_TEXTS as Record<string, string>)[r.text_version] ?? null) : null,
    source: r.source,
    confirmation: r.confirmation,
    occurredAt: r.occurred_at.toISOString(),
    recordedAt: r.recorded_at.toISOString(),
    recordedBy: r.recorded_by,
    workflowId: r.workflow_id,
  };
}

/**
 * Appends one grant or withdrawal with its audit entry, once per idempotency key (a retry finds
 * its row). Answers the row as stored.
 */
export async function appendConsent(
  db: PoolClient,
  c: Omit<ConsentChangeInput, 'consentId' | 'unsubscribeTokenSha256'> & { id: string; workflowId?: string | null; idempotencyKey: string },
): Promise<ConsentEntry> {
  const before = await currentConsent(db, c.customerId, c.channel, c.purpose);
  const inserted = await db.query<ConsentRow>(
    `INSERT INTO consent_events (id, customer_id, channel, purpose, action, method, text_version, source, confirmation, occurred_at, recorded_by, workflow_id, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${COLUMNS}`,
    [
      c.id,
      c.customerId,
      c.channel,
      c.purpose,
      c.action,
      c.proof.method,
      c.proof.textVersion ?? null,
      c.proof.source,
      c.proof.confirmation ? JSON.stringify(c.proof.confirmation) : null,
      c.occurredAt,
      c.actor,
      c.workflowId ?? null,
      c.idempotencyKey,
    ],
  );
  if (!inserted.rows[0]) {
    const { rows } = await db.query<ConsentRow>(`SELECT ${COLUMNS} FROM consent_events WHERE idempotency_key = $1`, [c.idempotencyKey]);
    return entryOf(rows[0]!);
  }
  const entry = entryOf(inserted.rows[0]);
  await writeAudit(db, { step: `consent:${entry.id}`, customerId: c.customerId, actor: c.actor, process: 'consent', workflowId: c.workflowId ?? null }, [
    {
      field: `consent.${c.channel}.${c.purpose}`,
      oldValue: before ? before.action : null,
      newValue: { action: c.action, method: c.proof.method, textVersion: c.proof.textVersion ?? null, source: c.proof.source, consentId: entry.id },
    },
  ]);
  return entry;
}

/** The latest grant or withdrawal of one channel and purpose, if any. */
export async function currentConsent(db: Pool | PoolClient, customerId: string, channel: ConsentChannel, purpose: string): Promise<ConsentEntry | undefined> {
  const { rows } = await db.query<ConsentRow>(
    `SELECT ${COLUMNS} FROM consent_events WHERE customer_id = $1 AND channel = $2 AND purpose = $3 ORDER BY occurred_at DESC, seq DESC LIMIT 1`,
    [customerId, channel, purpose],
  );
  return rows[0] && entryOf(rows[0]);
}

/** May marketing go to this customer on this channel? Only while the latest marketing row of the channel is a grant. */
export async function hasMarketingConsent(db: Pool | PoolClient, customerId: string, channel: ConsentChannel): Promise<boolean> {
  return (await currentConsent(db, customerId, channel, 'marketing'))?.action === 'grant';
}

export interface ConsentOverview {
  /** Every channel and purpose, with the latest row, or none when nothing was ever recorded. */
  current: Array<{ channel: ConsentChannel; purpose: ConsentEntry['purpose']; granted: boolean; since: string | null; latest: ConsentEntry | null }>;
  /** Every grant and withdrawal, newest first. */
  history: ConsentEntry[];
}

export async function consentOverview(db: Pool | PoolClient, customerId: string): Promise<ConsentOverview> {
  const { rows } = await db.query<ConsentRow>(`SELECT ${COLUMNS} FROM consent_events WHERE customer_id = $1 ORDER BY occurred_at DESC, seq DESC`, [customerId]);
  const history = rows.map(entryOf);
  const current = CONSENT_CHANNELS.flatMap((channel) =>
    CONSENT_PURPOSES.map((purpose) => {
      const latest = history.find((e) => e.channel === channel && e.purpose === purpose) ?? null;
      return { channel, purpose, granted: latest?.action === 'grant', since: latest?.occurredAt ?? null, latest };
    }),
  );
  return { current, history };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Makes the unsubscribe link of one marketing message: a random token, of which only the hash is
 * kept. Each delivery attempt makes its own (a retry may follow a delivery that did go out).
 */
export async function issueUnsubscribeToken(db: Pool | PoolClient, t: { customerId: string; channel: ConsentChannel; messageId: string }): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  await db.query(
    `INSERT INTO unsubscribe_tokens (token_sha256, customer_id, channel, message_id, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
    [tokenHash(token), t.customerId, t.channel, t.messageId, UNSUBSCRIBE_LINK_VALIDITY_MS / 1000],
  );
  return token;
}

export interface UnsubscribeTokenRow {
  token_sha256: string;
  customer_id: string;
  channel: ConsentChannel;
  message_id: string;
  expires_at: Date;
  used_at: Date | null;
  customer_status: string;
}

/** What a token is for, if it is one (by its hash); `lock` for the transaction that uses it. */
export async function readUnsubscribeToken(db: Pool | PoolClient, token: string, lock = false): Promise<UnsubscribeTokenRow | undefined> {
  const { rows } = await db.query<UnsubscribeTokenRow>(
    `SELECT t.token_sha256, t.customer_id, t.channel, t.message_id, t.expires_at, t.used_at, c.status AS customer_status
     FROM unsubscribe_tokens t JOIN customers c ON c.id = t.customer_id WHERE t.token_sha256 = $1${lock ? ' FOR UPDATE OF t' : ''}`,
    [tokenHash(token)],
  );
  return rows[0];
}

/** The token has done its one thing: it recorded this withdrawal. */
export async function useUnsubscribeToken(db: PoolClient, tokenSha256: string, consentId: string, at: Date): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE unsubscribe_tokens SET used_at = $3, consent_event_id = $2 WHERE token_sha256 = $1 AND used_at IS NULL', [
    tokenSha256,
    consentId,
    at,
  ]);
  return (rowCount ?? 0) > 0;
}
