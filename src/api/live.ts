/**
 * Live details: what a running workflow says about itself right now, asked only when the caller
 * wants it (`?live=true`) and only of a process the record shows open. Reads answer from the
 * record; a live detail is an addition marked as such, and the read answers without it when the
 * workflow does not answer in time (no worker, Temporal unreachable, the workflow gone).
 */
import { z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { resultWithin } from './idempotency.js';

export const LIVE_QUERY_TIMEOUT_MS = 1_000;
/** How much longer than its deadline a live query is waited for at most. */
const LIVE_QUERY_GRACE_MS = 250;

export const liveParamSchema = z
  .enum(['true', 'false'], { message: 'must be true or false' })
  .transform((v) => v === 'true')
  .optional()
  .openapi({ description: 'Also ask the running workflow for its live state (answered within a second, or left out)' });

export interface Live<T> {
  /** When the workflow answered. */
  at: string;
  state: T;
}

export async function liveState<T>(
  temporal: Client,
  workflowId: string,
  query: QueryDefinition<T>,
  timeoutMs = LIVE_QUERY_TIMEOUT_MS,
): Promise<Live<T> | undefined> {
  // The deadline ends the call at Temporal; the race ends the wait here even when the client
  // retries or the machine is slow to deliver the deadline (a read must not hang on Temporal).
  const asked = temporal
    .withDeadline(Date.now() + timeoutMs, () => temporal.workflow.getHandle(workflowId).query(query))
    .then((state) => ({ state }))
    .catch(() => undefined);
  const answer = await resultWithin(asked, timeoutMs + LIVE_QUERY_GRACE_MS);
  return answer ? { at: new Date().toISOString(), state: answer.state } : undefined;
}

/** The record, with the live state when it was asked for and answered. */
export async function withLive<R extends object, T>(record: R, ask: boolean, live: () => Promise<Live<T> | undefined>): Promise<R & { live?: Live<T> }> {
  if (!ask) return record;
  const answer = await live();
  return answer ? { ...record, live: answer } : record;
}
