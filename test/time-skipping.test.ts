import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from './support/time-skipping.js';
import { sleepFor } from './workflows/timers.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

it('runs a workflow that sleeps 30 days in about a second on the time-skipping server', async () => {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'time-skipping',
    workflowsPath: fileURLToPath(new URL('./workflows/timers.ts', import.meta.url)),
  });
  const t0 = Date.now();
  const result = await worker.runUntil(env.client.workflow.execute(sleepFor, { taskQueue: 'time-skipping', workflowId: 'sleep-30-days', args: ['30 days'] }));
  const elapsed = Date.now() - t0;
  expect(result).toBe('woke');
  // Wall time proves the skip: 30 days of timer in seconds of real time.
  expect(elapsed).toBeLessThan(15_000);
});
