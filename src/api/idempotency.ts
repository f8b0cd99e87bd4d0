/**
 * Idempotency-Keys, kept in PostgreSQL (`idempotency_keys`) for IDEMPOTENCY_TTL, whatever
 * Temporal has forgotten and whether or not a worker runs.
 *
 * Every `POST` that carries a key claims it before the handler runs:
 * - first use: the handler runs; ids of what it creates derive from the claim's `scope`, and its
 *   answer is kept (unless it refused the request before acting, which frees the key again);
 * - same key, same body, same caller, answered: the kept answer, without asking Temporal;
 * - same key while the first is still in flight (no answer yet, or a 202 "pending"): the handler
 *   runs again with the same scope, so it lands on the same process (Temporal's workflow id
 *   and update id keep concurrent duplicates to one start), and answers with its state;
 * - same key with another body, or from another caller: 422.
 * An expired key is claimed afresh: a new scope, so new ids and a new process. An answer sent with
 * `Cache-Control: no-store` (it carries a secret) is never kept: its key is freed again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import type { IdempotencyKeyStore, KeyRef, StoredKey } from '../db/repositories/idempotency-keys.js';
import type { Logger } from '../logger.js';
import type { ApiEnv } from './env.js';
import { ApiError } from './problem.js';
import { stableJson } from '../domain/stable-json.js';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** IDEMPOTENCY_TTL's default, for an API built without configuration (tests). */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 7 * 86_400_000;

export const idempotencyKeySchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'Idempotency-Key must be 1 to 128 characters of A-Z, a-z, 0-9, _ . : -');

/**
 * Fields a request hash leaves out: a one-time code has a million values, so even its hash would
 * give it away to anyone who reads the table. A repeat of the key with another code is the same
 * request, and gets the first answer (no second guess).
 */
const UNHASHED_FIELDS = ['code'];

/** Stable hash of a JSON body: key order does not matter. */
export function requestHash(body: unknown): string {
  const kept =
    body && typeof body === 'object' && !Array.isArray(body) ? Object.fromEntries(Object.entries(body).filter(([k]) => !UNHASHED_FIELDS.includes(k))) : body;
  return createHash('sha256')
    .update(stableJson(kept) ?? '')
    .digest('hex');
}

export function newKey(): string {
  return randomUUID();
}

/** What a handler learns about the key of its request (`c.get('idempotency')`). */
export interface IdempotencyClaim {
  key: string;
  /** Drawn when the key was claimed: derive the ids of what the request creates from it. */
  scope: string;
  /** true for the request that claimed the key, false for a repeat of it */
  fresh: boolean;
  /** The process the key already started, when a repeat knows it. */
  workflowId?: string;
  /** Tells the store which process the key started. */
  recordStart(workflowId: string): Promise<void>;
}

function isPending(status: number, body: string): boolean {
  if (status !== 202) return false;
  try {
    return (JSON.parse(body) as { status?: unknown }).status === 'pending';
  } catch {
    return false;
  }
}

function replay(stored: StoredKey): Response {
  const r = stored.response!;
  const headers: Record<string, string> = { 'Content-Type': r.type ?? 'application/json', 'Idempotent-Replayed': 'true' };
  if (r.location) headers.Location = r.location;
  return new Response(r.body, { status: r.status as ContentfulStatusCode, headers });
}

export function idempotencyKeys(store: IdempotencyKeyStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header(IDEMPOTENCY_KEY_HEADER);
    // Without a key there is nothing to honour; a malformed one is the route's 400 to give.
    if (c.req.method !== 'POST' || header === undefined || !idempotencyKeySchema.safeParse(header).success) return next();
    const text = await c.req.text();
    let body: unknown = null;
    try {
      if (text) body = JSON.parse(text);
    } catch {
      return next(); // malformed JSON: the route's 400
    }

    const operation = `POST ${c.req.path}`;
    const claim = await store.claim({ operation, key: header, actor: c.get('principal').actor, requestHash: requestHash(body) });
    if (claim.kind === 'conflict') {
      throw new ApiError(
        422,
        claim.reason === 'body'
          ? 'This Idempotency-Key was already used with a different request body'
          : 'This Idempotency-Key was already used by another caller',
        { ...(claim.stored.workflowId ? { workflowId: claim.stored.workflowId } : {}), expiresAt: claim.stored.expiresAt.toISOString() },
      );
    }
    const stored = claim.kind === 'repeat' ? claim.stored : undefined;
    if (stored?.response?.final) {
      if (stored.workflowId) c.set('workflowId', stored.workflowId);
      return replay(stored);
    }

    const ref: KeyRef = { operation, key: header, scope: claim.kind === 'claimed' ? claim.scope : stored!.scope };
    let recorded: string | undefined;
    c.set('idempotency', {
      key: header,
      scope: ref.scope,
      fresh: claim.kind === 'claimed',
      ...(stored?.workflowId ? { workflowId: stored.workflowId } : {}),
      async recordStart(workflowId) {
        recorded = workflowId;
        await store.recordStart(ref, workflowId);
      },
    });
    await next();

    const res = c.res;
    // Did this request reach a process? Then its answer counts, and the key stays taken.
    const reached = recorded !== undefined || c.get('workflowId') !== undefined;
    if (res.status >= 500 || (res.status >= 400 && !reached)) {
      if (claim.kind === 'claimed' && !reached) await store.release(ref);
      // A repeat of a pending start that cannot ask its process now (Temporal has forgotten it,
      // no worker answers): the kept 202 still says where to look.
      if (stored?.response) c.res = replay(stored);
      return;
    }
    // An answer that must not be kept (an issued API key, `Cache-Control: no-store`) frees the
    // key: a repeat runs the request again rather than replay a secret from the table.
    if (/\bno-store\b/i.test(res.headers.get('cache-control') ?? '')) {
      if (claim.kind === 'claimed') await store.release(ref);
      return;
    }
    const answer = await res.clone().text();
    await store.answer(ref, {
      status: res.status,
      body: answer,
      type: res.headers.get('content-type'),
      location: res.headers.get('location'),
      final: !isPending(res.status, answer),
      workflowId: recorded ?? c.get('workflowId') ?? stored?.workflowId ?? undefined,
    });
  };
}

/** Deletes expired keys now and then; a claim takes over an expired key anyway, so this only keeps the table small. */
export function startIdempotencyPurge(store: IdempotencyKeyStore, logger: Logger, everyMs = 3_600_000): { stop(): void } {
  const purge = () => {
    store
      .purgeExpired()
      .then((n) => n && logger.info({ purged: n }, 'expired idempotency keys purged'))
      .catch((err: unknown) => logger.warn({ err }, 'purging expired idempotency keys failed; next try in an hour'));
  };
  purge();
  const timer = setInterval(purge, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export interface StartResult<W extends Workflow> {
  handle: WorkflowHandle<W>;
  /** false when this request repeated an earlier one */
  started: boolean;
}

/**
 * Starts a workflow once per Idempotency-Key: a repeat whose key already started a process gets
 * that process, without starting anything (even if Temporal has forgotten it); a concurrent repeat
 * meets the first start on the workflow id.
 */
export async function startOnce<W extends Workflow>(
  client: Client,
  workflowType: string,
  options: WorkflowStartOptions<W> & { workflowId: string },
  claim: IdempotencyClaim | undefined,
): Promise<StartResult<W>> {
  if (claim?.workflowId) return { handle: client.workflow.getHandle<W>(claim.workflowId), started: false };
  try {
    const handle = await client.workflow.start<W>(workflowType, {
      ...options,
      // A fresh claim owns the id even if a closed run of an expired key still carries it.
      workflowIdReusePolicy: claim?.fresh ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
    } as WorkflowStartOptions<W>);
    await claim?.recordStart(options.workflowId);
    return { handle, started: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !claim) throw err;
    await claim.recordStart(options.workflowId);
    return { handle: client.workflow.getHandle<W>(options.workflowId), started: false };
  }
}

/** Waits for a result up to `ms`; undefined when the workflow is still running then. */
export async function resultWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
