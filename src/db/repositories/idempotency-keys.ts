/**
 * The repository of `idempotency_keys`: claims a key before a request acts, keeps its answer,
 * and forgets it after the configured period. Temporal's retention plays no part.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from '../pool.js';

export interface StoredKey {
  operation: string;
  key: string;
  actor: string;
  requestHash: string;
  scope: string;
  workflowId: string | null;
  response: { status: number; body: string; type: string | null; location: string | null; final: boolean } | null;
  createdAt: Date;
  expiresAt: Date;
}

export type Claim =
  /** This request owns the key (new, or the old claim had expired). */
  | { kind: 'claimed'; scope: string }
  /** The key was claimed before, by the same actor with the same body. */
  | { kind: 'repeat'; stored: StoredKey }
  /** The key was claimed before with another body, or by another actor. */
  | { kind: 'conflict'; reason: 'body' | 'actor'; stored: StoredKey };

export interface KeyRef {
  operation: string;
  key: string;
  /** Only the claim that drew this scope may change the row (a later claim of an expired key draws another). */
  scope: string;
}

export interface Answer {
  status: number;
  body: string;
  type: string | null;
  location: string | null;
  /** false: a 202 while the process still runs; a repeat asks the process again */
  final: boolean;
  workflowId?: string;
}

interface Row {
  operation: string;
  key: string;
  actor: string;
  request_hash: string;
  scope: string;
  workflow_id: string | null;
  response_status: number | null;
  response_body: string | null;
  response_type: string | null;
  response_location: string | null;
  response_final: boolean;
  created_at: Date;
  expires_at: Date;
}

function toStored(r: Row): StoredKey {
  return {
    operation: r.operation,
    key: r.key,
    actor: r.actor,
    requestHash: r.request_hash,
    scope: r.scope,
    workflowId: r.workflow_id,
    response:
      r.response_status === null
        ? null
        : {
            status: r.response_status,
            body: r.response_body ?? '',
            type: r.response_type,
            location: r.response_location,
            final: r.response_final,
          },
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
}

export function idempotencyKeyStore(pool: Pool, ttlMs: number) {
  return {
    ttlMs,

    /**
     * Claims `key` for `operation`. One statement decides between concurrent claims (the primary
     * key); an expired claim is taken over as if it never existed.
     */
    async claim(req: { operation: string; key: string; actor: string; requestHash: string }): Promise<Claim> {
      for (let attempt = 0; attempt < 3; attempt++) {
        const scope = randomUUID();
        const claimed = await pool.query(
          `INSERT INTO idempotency_keys (operation, key, actor, request_hash, scope, expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 millisecond')
           ON CONFLICT (operation, key) DO UPDATE SET
             actor = EXCLUDED.actor, request_hash = EXCLUDED.request_hash, scope = EXCLUDED.scope, workflow_id = NULL,
             response_status = NULL, response_body = NULL, response_type = NULL, response_location = NULL, response_final = false,
             created_at = now(), answered_at = NULL, expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at <= now()
           RETURNING scope`,
          [req.operation, req.key, req.actor, req.requestHash, scope, ttlMs],
        );
        if (claimed.rowCount) return { kind: 'claimed', scope };
        const { rows } = await pool.query<Row>('SELECT * FROM idempotency_keys WHERE operation = $1 AND key = $2 AND expires_at > now()', [
          req.operation,
          req.key,
        ]);
        const row = rows[0];
        // Gone between the two statements (released or expired just now): claim again.
        if (!row) continue;
        const stored = toStored(row);
        if (row.actor !== req.actor) return { kind: 'conflict', reason: 'actor', stored };
        if (row.request_hash !== req.requestHash) return { kind: 'conflict', reason: 'body', stored };
        return { kind: 'repeat', stored };
      }
      throw new Error(`Idempotency-Key ${req.key} for ${req.operation} could not be claimed`);
    },

    /** The process the claim started: a repeat uses it instead of starting one. */
    async recordStart(ref: KeyRef, workflowId: string): Promise<void> {
      await pool.query('UPDATE idempotency_keys SET workflow_id = $4 WHERE operation = $1 AND key = $2 AND scope = $3 AND workflow_id IS NULL', [
        ref.operation,
        ref.key,
        ref.scope,
        workflowId,
      ]);
    },

    /** Keeps the answer; the first final answer is never replaced. */
    async answer(ref: KeyRef, answer: Answer): Promise<void> {
      await pool.query(
        `UPDATE idempotency_keys SET response_status = $4, response_body = $5, response_type = $6, response_location = $7, response_final = $8,
           workflow_id = COALESCE(workflow_id, $9), answered_at = now()
         WHERE operation = $1 AND key = $2 AND scope = $3 AND NOT response_final`,
        [ref.operation, ref.key, ref.scope, answer.status, answer.body, answer.type, answer.location, answer.final, answer.workflowId ?? null],
      );
    },

    /** Frees a key whose request did nothing (refused before it acted), so a corrected request may use it. */
    async release(ref: KeyRef): Promise<void> {
      await pool.query('DELETE FROM idempotency_keys WHERE operation = $1 AND key = $2 AND scope = $3 AND workflow_id IS NULL AND response_status IS NULL', [
        ref.operation,
        ref.key,
        ref.scope,
      ]);
    },

    /** Deletes expired keys, a batch at a time; returns how many. */
    async purgeExpired(batch = 1000): Promise<number> {
      let total = 0;
      for (;;) {
        const { rowCount } = await pool.query(
          `DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT $1)`,
          [batch],
        );
        total += rowCount ?? 0;
        if ((rowCount ?? 0) < batch) return total;
      }
    },
  };
}

export type IdempotencyKeyStore = ReturnType<typeof idempotencyKeyStore>;
