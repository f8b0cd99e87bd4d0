/**
 * Idempotent starts. A workflow id derived from the Idempotency-Key is the only record needed:
 * the first start wins, a repeat with the same body gets the first run's result, and a repeat
 * with a different body is refused (the body's hash travels in the workflow memo).
 */
import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { z } from 'zod';
import { ApiError } from './problem.js';

export const idempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'Idempotency-Key must be 1 to 128 characters of A-Z, a-z, 0-9, _ . : -');

/** Stable hash of a JSON body: key order does not matter. */
export function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest('hex');
}

export function newKey(): string {
  return randomUUID();
}

export interface StartResult<W extends Workflow> {
  handle: WorkflowHandle<W>;
  /** false when this request repeated an earlier one */
  started: boolean;
}

export async function startOnce<W extends Workflow>(
  client: Client,
  workflowType: string,
  options: WorkflowStartOptions<W> & { workflowId: string },
  body: unknown,
): Promise<StartResult<W>> {
  const hash = requestHash(body);
  try {
    const handle = await client.workflow.start<W>(workflowType, {
      ...options,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { ...(options.memo ?? {}), requestHash: hash },
    } as WorkflowStartOptions<W>);
    return { handle, started: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const handle = client.workflow.getHandle<W>(options.workflowId);
    const description = await handle.describe();
    if (description.memo?.requestHash !== hash) {
      throw new ApiError(422, 'This Idempotency-Key was already used with a different request body', { workflowId: options.workflowId });
    }
    return { handle, started: false };
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
