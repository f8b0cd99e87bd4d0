/**
 * A campaign enrollment in a long `wait` step, told of many customer events, continues as new
 * before its history approaches Temporal's limits, and goes on to the same end: same wait, same
 * log, no step run twice. Activities replaced; the limits lowered through the input.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { fakeWorker } from '../support/fake-activities.js';
import { customerEventSignal, enrollmentStateQuery, type EnrollmentInput } from '../../src/domain/retention.js';
import type { campaignEnrollment } from '../../workflows/retention.js';

const { EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW } = temporal.api.enums.v1.EventType;

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

it('an enrollment waiting 30 days through many customer events continues as new, and ends with each message sent once', async () => {
  const w = await fakeWorker(env, {
    sendCampaignMessage: async () => ({ outcome: 'sent', messageId: randomUUID() }),
    recordEnrollmentStep: async () => undefined,
    closeEnrollment: async () => undefined,
  });
  const customerId = randomUUID();
  const input: EnrollmentInput = {
    campaignId: randomUUID(),
    campaignName: 'Win back',
    customerId,
    runKey: '2026-12-03',
    enrolledAt: new Date().toISOString(),
    definition: {
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-winback' },
        { type: 'wait', duration: '30 days' },
        { type: 'message', channel: 'email', template: 'campaign-winback' },
      ],
      maxMessagesPerWeek: 3,
      timezone: 'Europe/Berlin',
    },
    limits: { signals: 4 },
  } as EnrollmentInput;
  const workflowId = `enrollment-${randomUUID()}`;
  const events = 10;
  const { result, firstRunId, state } = await w.run(async () => {
    const handle = await env.client.workflow.start<typeof campaignEnrollment>('campaignEnrollment', { taskQueue: w.taskQueue, workflowId, args: [input] });
    // Wait until it is in the wait step, then tell it of customer events (logins: they end nothing).
    for (;;) {
      const s = await handle.query(enrollmentStateQuery);
      if (s.status === 'waiting') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Two bursts, each past the limit of 4 signals: the first run continues as new, then the second.
    const burst = async (from: number, to: number, runId: string) => {
      for (let i = from; i < to; i++) {
        await env.client.workflow.getHandle(workflowId).signal(customerEventSignal, { eventId: `e${i}`, type: 'login', occurredAt: new Date().toISOString() });
      }
      for (;;) {
        const d = await env.client.workflow.getHandle(workflowId, runId).describe();
        if (d.status.name === 'CONTINUED_AS_NEW') return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await burst(0, events / 2, handle.firstExecutionRunId);
    const second = (await env.client.workflow.getHandle(workflowId).describe()).runId;
    await burst(events / 2, events, second);
    // A query answers from the last completed workflow task: the last signal may still be on its way in.
    let during = await env.client.workflow.getHandle(workflowId).query(enrollmentStateQuery);
    for (let i = 0; i < 100 && during.log.filter((e) => e.type === 'event').length < events; i++) {
      await new Promise((r) => setTimeout(r, 100));
      during = await env.client.workflow.getHandle(workflowId).query(enrollmentStateQuery);
    }
    return { result: await env.client.workflow.getHandle(workflowId).result(), firstRunId: handle.firstExecutionRunId, state: during };
  });
  expect(result).toEqual({ status: 'completed', reason: 'all steps done', messagesSent: 2 });
  expect(w.callsOf('sendCampaignMessage').map((c) => (c as { step: number }).step)).toEqual([0, 2]);
  // The wait was recorded once, though the step went on in later runs.
  expect(w.callsOf('recordEnrollmentStep').map((c) => (c as { key: string }).key)).toEqual(['wait']);
  // The log carried across the runs: enrolled, sent, waiting, then every event.
  expect(state.log.filter((e) => e.type === 'event')).toHaveLength(events);
  expect(state.log[0]!.type).toBe('enrolled');
  // The chain of runs: each but the last ended by continuing as new (the test server lists nothing, so follow it).
  let runs = 1;
  for (let runId: string | undefined = firstRunId; runId; runs++) {
    const last: temporal.api.history.v1.IHistoryEvent | undefined = (await env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events?.at(-1);
    if (last?.eventType !== EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW) break;
    runId = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  expect(runs).toBeGreaterThanOrEqual(3);
}, 120_000);
