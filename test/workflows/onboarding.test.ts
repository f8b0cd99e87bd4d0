/**
 * Onboarding's timers with its activities replaced: the first-contact reminder to the account
 * manager at the SLA, and the check-in that decides onboarded or stalled, two weeks on, in moments.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { fakeWorker, type FakeWorker } from '../support/fake-activities.js';
import { interactionRecordedSignal } from '../../src/domain/contacts.js';
import { onboardingStateQuery, type OnboardingInput } from '../../src/domain/onboarding.js';
import type { customerOnboarding } from '../../workflows/onboarding.js';

const DAY = 86_400_000;
const MANAGER = 'ben.sales@example.com';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const fakes = () => ({
  beginOnboarding: async () => ({
    accountManager: MANAGER,
    optInMessageId: randomUUID(),
    taskMessageId: randomUUID(),
    policy: { firstContactSlaMs: 3 * DAY, checkInAfterMs: 14 * DAY },
  }),
  queueOnboardingMessage: async () => ({ messageId: randomUUID() }),
  recordOnboarding: async () => undefined,
  finishOnboarding: async () => undefined,
  // The account manager is an e-mail address, no user: no task, the messages as before.
  openTask: async () => undefined,
});

type Handle = Awaited<ReturnType<typeof env.client.workflow.start<typeof customerOnboarding>>>;

async function onboard(during?: (handle: Handle, w: FakeWorker) => Promise<void>) {
  const w = await fakeWorker(env, fakes());
  const customerId = randomUUID();
  const input: OnboardingInput = {
    customerId,
    name: 'Ada Lovelace',
    email: `${customerId}@example.com`,
    locale: 'en',
    origin: 'registration',
  };
  const result = await w.run(async () => {
    const handle = await env.client.workflow.start<typeof customerOnboarding>('customerOnboarding', {
      taskQueue: w.taskQueue,
      workflowId: `onboarding-${customerId}`,
      args: [input],
    });
    await during?.(handle, w);
    return handle.result();
  });
  const templates = w.callsOf('queueOnboardingMessage').map((m) => (m as { template: string; recipient: string }).template);
  return { result, templates, w };
}

it('a customer nobody contacts: the account manager is reminded at the SLA, and at the check-in the onboarding stalls, saying why', async () => {
  const { result, templates, w } = await onboard();
  expect(result.outcome).toBe('stalled');
  expect(result.reasons).toEqual(['e-mail address not confirmed', 'no first contact recorded by the account manager']);
  expect(templates).toEqual(['onboarding-first-contact-reminder', 'onboarding-stalled']);
  expect(w.callsOf('finishOnboarding')).toEqual([{ customerId: result.customerId, outcome: 'stalled', reasons: result.reasons }]);
});

it('a first contact before the SLA sends no reminder; the check-in still stalls on the unconfirmed address alone', async () => {
  const { result, templates } = await onboard(async (handle, w) => {
    // Once the code and the task are out (both delivered, so the onboarding waits on its timers
    // alone before time moves), the manager calls on day one.
    const settled = async () => (await handle.query(onboardingStateQuery)).status === 'in-progress' && w.callsOf('deliverMessage').length === 2;
    for (let tries = 0; !(await settled()); tries++) {
      if (tries > 300) throw new Error(`onboarding never settled: ${JSON.stringify(w.calls.map((c) => c.name))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await env.sleep('1 day');
    await handle.signal(interactionRecordedSignal, {
      eventId: randomUUID(),
      channel: 'call',
      direction: 'outbound',
      occurredAt: new Date(await env.currentTimeMs()).toISOString(),
      recordedBy: MANAGER,
    });
  });
  expect(result.reasons).toEqual(['e-mail address not confirmed']);
  expect(templates).toEqual(['onboarding-stalled']);
});
