/**
 * One-purpose links sent to a customer's verified contact point (`customer_links`): whoever holds
 * the link may do its one thing (fetch an export, cancel a verified erasure, stop a contact change),
 * once, until it expires. Only the SHA-256 of the token is kept.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from '../pool.js';

export const LINK_PURPOSES = ['export-download', 'erasure-cancel', 'change-revert'] as const;
export type LinkPurpose = (typeof LINK_PURPOSES)[number];

/** The path a link of each purpose opens (the token is its last segment). */
export const LINK_PATHS: Record<LinkPurpose, string> = {
  'export-download': '/links/export',
  'erasure-cancel': '/links/erasure-cancellation',
  'change-revert': '/links/contact-change-stop',
};

export const LINK_TOKEN_FORMAT = /^[A-Za-z0-9_-]{32}$/;

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

export interface LinkRow {
  token_sha256: string;
  purpose: LinkPurpose;
  request_id: string;
  customer_id: string | null;
  expires_at: Date;
  used_at: Date | null;
}

/**
 * Makes a fresh token for a link and keeps its hash. A retry with the same idempotency key
 * replaces the earlier token (its message was never sent, or is superseded by this one).
 */
export async function issueLink(
  db: Pool | PoolClient,
  link: { purpose: LinkPurpose; requestId: string; customerId: string | null; expiresAt: Date; idempotencyKey: string },
): Promise<{ token: string; url: string }> {
  const token = randomBytes(24).toString('base64url');
  await db.query(
    `INSERT INTO customer_links (token_sha256, purpose, request_id, customer_id, expires_at, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (idempotency_key) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256, expires_at = EXCLUDED.expires_at
     WHERE customer_links.used_at IS NULL`,
    [sha256(token), link.purpose, link.requestId, link.customerId, link.expiresAt, link.idempotencyKey],
  );
  return { token, url: `${LINK_PATHS[link.purpose]}/${token}` };
}

/** The link of a token of the purpose, locked for its use; undefined when unknown. */
export async function readLink(db: Pool | PoolClient, purpose: LinkPurpose, token: string, lock = false): Promise<LinkRow | undefined> {
  if (!LINK_TOKEN_FORMAT.test(token)) return undefined;
  const { rows } = await db.query<LinkRow>(
    `SELECT token_sha256, purpose, request_id, customer_id, expires_at, used_at FROM customer_links
     WHERE token_sha256 = $1 AND purpose = $2${lock ? ' FOR UPDATE' : ''}`,
    [sha256(token), purpose],
  );
  return rows[0];
}

/** Marks a link used; false when it already was. */
export async function useLink(db: Pool | PoolClient, tokenSha256: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE customer_links SET used_at = now() WHERE token_sha256 = $1 AND used_at IS NULL', [tokenSha256]);
  return (rowCount ?? 0) > 0;
}

/** Why a link cannot be used now, or undefined when it can. */
export function linkRefusal(row: LinkRow | undefined, what: string): { status: 404 | 410; detail: string } | undefined {
  if (!row) return { status: 404, detail: `This ${what} link is not known` };
  if (row.used_at) return { status: 410, detail: `This ${what} link was already used at ${row.used_at.toISOString()}` };
  if (row.expires_at.getTime() <= Date.now()) return { status: 410, detail: `This ${what} link expired at ${row.expires_at.toISOString()}` };
  return undefined;
}
