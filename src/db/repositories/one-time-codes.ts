/**
 * One-time codes (`verification_subjects`, `verification_codes`), for every process that asks a
 * person to prove control of a contact point: master-data changes, GDPR requests, the onboarding
 * opt-in. A subject (the change, request or onboarding the codes confirm) has an attempt limit and
 * one code per target. A code is six digits, made here, kept only as a salted scrypt hash with an
 * expiry, and handed back once so that its message can carry it to the transport
 * (`sendWithSecret` in the outbox): it is never in a table, a payload, a workflow history or a
 * log. Every check counts, under the subject's row lock, before it is compared: concurrent
 * guesses queue behind each other and the limit holds.
 */
import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Pool, PoolClient } from '../pool.js';

export type CodePurpose = 'change' | 'export' | 'erasure' | 'opt-in';
export type CodeTarget = 'new-email' | 'new-phone' | 'existing-contact' | 'prior-email' | 'prior-phone';

const CODE_DIGITS = 6;
const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

function hashCode(code: string, salt: Buffer): Promise<Buffer> {
  return scrypt(code, salt, 32);
}

/** Opens a subject once (no customer: a lead-only person's GDPR request); a later call changes nothing. `attempts` carries over wrong codes counted elsewhere before. */
export async function openSubject(
  db: Pool | PoolClient,
  s: { subject: string; customerId: string | null; purpose: CodePurpose; maxAttempts: number; attempts?: number },
): Promise<void> {
  await db.query(
    `INSERT INTO verification_subjects (subject, customer_id, purpose, max_attempts, attempts) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (subject) DO NOTHING`,
    [s.subject, s.customerId, s.purpose, s.maxAttempts, Math.min(s.attempts ?? 0, s.maxAttempts)],
  );
}

export async function subjectExists(db: Pool | PoolClient, subject: string): Promise<boolean> {
  return ((await db.query('SELECT 1 FROM verification_subjects WHERE subject = $1', [subject])).rowCount ?? 0) > 0;
}

/**
 * Makes a fresh code for one target of a subject and keeps its salted hash. Issue n replaces the
 * code of issue n-1 (a resend), so exactly one code per target is valid: the one of the latest
 * message. A verified target keeps its verification. With `maxIssues`, an issue beyond it is
 * refused (undefined): the resend limit holds whatever the caller's own count says.
 */
export async function issueCode(
  db: Pool | PoolClient,
  c: { subject: string; target: CodeTarget; channel: 'email' | 'sms'; issue: number; ttlMs: number; maxIssues?: number },
): Promise<{ code: string; expiresAt: Date } | undefined> {
  if (c.maxIssues !== undefined && c.issue > c.maxIssues) return undefined;
  const code = String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
  const salt = randomBytes(16);
  const expiresAt = new Date(Date.now() + c.ttlMs);
  await db.query(
    `INSERT INTO verification_codes (subject, target, channel, issue, salt, code_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (subject, target) DO UPDATE
       SET issue = EXCLUDED.issue, salt = EXCLUDED.salt, code_hash = EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at, channel = EXCLUDED.channel
     WHERE verification_codes.verified_at IS NULL`,
    [c.subject, c.target, c.channel, c.issue, salt, await hashCode(code, salt), expiresAt],
  );
  return { code, expiresAt };
}

export type CodeCheckResult =
  | { result: 'matched'; target: CodeTarget; attemptsLeft: number }
  /** `check` numbers the checks of the subject (it never resets): a key for the caller's timeline entry. */
  | { result: 'wrong'; attemptsLeft: number; check: number }
  /** The limit was reached by this check (`check` set) or before it (nothing compared, nothing counted). */
  | { result: 'exhausted'; attemptsLeft: 0; check?: number };

/**
 * Checks a code against the unverified, unexpired codes of a subject, counting the attempt first.
 * `alsoMatches` lets a caller accept a code kept the way an earlier release kept it, for work that
 * was running before the change (counted the same way). Undefined when no subject exists.
 * A right code resets the count: the person proved control of that contact point.
 */
export async function checkCode(
  db: PoolClient,
  input: { subject: string; code: string; alsoMatches?: (code: string) => Promise<boolean> },
): Promise<(CodeCheckResult & { customerId: string | null; purpose: CodePurpose }) | undefined> {
  const { rows } = await db.query<{ customer_id: string | null; purpose: CodePurpose; attempts: number; max_attempts: number; checks: number }>(
    'SELECT customer_id, purpose, attempts, max_attempts, checks FROM verification_subjects WHERE subject = $1 FOR UPDATE',
    [input.subject],
  );
  const s = rows[0];
  if (!s) return undefined;
  const about = { customerId: s.customer_id, purpose: s.purpose };
  if (s.attempts >= s.max_attempts) return { result: 'exhausted', attemptsLeft: 0, ...about };
  const attempts = s.attempts + 1;
  const check = s.checks + 1;
  await db.query('UPDATE verification_subjects SET attempts = $2, checks = $3 WHERE subject = $1', [input.subject, attempts, check]);
  const candidate = new RegExp(`^\\d{${CODE_DIGITS}}$`).test(input.code.trim()) ? input.code.trim() : undefined;
  if (candidate) {
    const codes = await db.query<{ target: CodeTarget; salt: Buffer; code_hash: Buffer }>(
      'SELECT target, salt, code_hash FROM verification_codes WHERE subject = $1 AND verified_at IS NULL AND expires_at > now()',
      [input.subject],
    );
    for (const row of codes.rows) {
      if (!timingSafeEqual(await hashCode(candidate, row.salt), row.code_hash)) continue;
      await db.query('UPDATE verification_codes SET verified_at = now() WHERE subject = $1 AND target = $2', [input.subject, row.target]);
      await db.query('UPDATE verification_subjects SET attempts = 0 WHERE subject = $1', [input.subject]);
      return { result: 'matched', target: row.target, attemptsLeft: s.max_attempts, ...about };
    }
    if (input.alsoMatches && (await input.alsoMatches(candidate))) {
      await db.query('UPDATE verification_subjects SET attempts = 0 WHERE subject = $1', [input.subject]);
      return { result: 'matched', target: 'new-email', attemptsLeft: s.max_attempts, ...about };
    }
  }
  const attemptsLeft = s.max_attempts - attempts;
  return attemptsLeft <= 0 ? { result: 'exhausted', attemptsLeft: 0, check, ...about } : { result: 'wrong', attemptsLeft, check, ...about };
}
