/**
 * Live details: what a running workflow says about itself right now, asked only when the caller
 * wants it (`?live=true`) and only of a process the record shows open. Reads answer from the
 * record; a live detail is an addition marked as such, and the read answers without it when the
 * workflow does not answer in time (no worker, Temporal unreachable, the workflow gone).
 */
import { z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';

export const LIVE_QUERY_TIMEOUT_MS = 1_000;

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
  try {
    const state = await temporal.withDeadline(Date.now() + timeoutMs, () => temporal.workflow.getHandle(workflowId).query(query));
    return { at: new Date().toISOString(), state };
  } catch {
    return undefined;
  }
}

/** The record, with the live state when it was asked for and answered. */
export async function withLive<R extends object, T>(record: R, ask: boolean, live: () => Promise<Live<T> | undefined>): Promise<R & { live?: Live<T> }> {
  if (!ask) return record;
  const answer = await live();
  return answer ? { ...record, live: answer } : record;
}
