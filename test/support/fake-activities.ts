/**
 * Workflow tests with their activities replaced, as Temporal's samples test workflows: a worker
 * on the time-skipping test server runs the real workflow bundle over fakes that answer from the
 * test and record every call. No PostgreSQL, no transport; timers of days pass in a moment.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../activities/index.js';

export type FakeActivities = {
  [K in keyof Activities]?: (...args: Parameters<Activities[K]>) => Promise<Awaited<ReturnType<Activities[K]>>> | Awaited<ReturnType<Activities[K]>>;
};

export interface FakeWorker {
  taskQueue: string;
  /** Every activity call, in order: its name and its first argument. */
  calls: Array<{ name: string; input: unknown }>;
  /** The inputs of one activity's calls. */
  callsOf(name: keyof Activities): unknown[];
  /** Runs `fn` with the worker polling the task queue, then stops it. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * A worker over `fakes`; the fake of `deliverMessage` (every process's message delivery) answers
 * "sent" unless given. An activity without a fake fails the test: the workflow asked for more
 * than the test expected.
 */
export async function fakeWorker(env: TestWorkflowEnvironment, fakes: FakeActivities): Promise<FakeWorker> {
  const taskQueue = `fake-${randomUUID()}`;
  const calls: FakeWorker['calls'] = [];
  const all: FakeActivities = { deliverMessage: async () => ({ sentAt: new Date().toISOString(), alreadySent: false }), ...fakes };
  const activities = Object.fromEntries(
    Object.entries(all).map(([name, fn]) => [
      name,
      async (input: unknown, ...rest: unknown[]) => {
        calls.push({ name, input });
        return (fn as (...a: unknown[]) => unknown)(input, ...rest);
      },
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities,
  });
  return {
    taskQueue,
    calls,
    callsOf: (name) => calls.filter((c) => c.name === name).map((c) => c.input),
    run: (fn) => worker.runUntil(fn()),
  };
}
