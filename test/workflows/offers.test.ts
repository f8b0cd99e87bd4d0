/**
 * An offer's branches and timers with its activities replaced: refused by a rule, held back by
 * the contact gate, withdrawn, and expired when the customer does not answer in time. The
 * validity timer of two weeks passes in moments on the time-skipping server.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { fakeWorker, type FakeActivities } from '../support/fake-activities.js';
import { offerStateQuery, type OfferInput } from '../../src/domain/offers.js';
import type { offer } from '../../workflows/offers.js';

const DAY = 86_400_000;

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const eligible: FakeActivities['decideOfferEligibility'] = async () => ({
  eligible: true,
  replacesProductId: 'internet-s',
  price: 29.99,
  productName: 'Internet M',
});
const fakes = (over: FakeActivities = {}): FakeActivities => ({
  decideOfferEligibility: eligible,
  presentOffer: async () => ({ outcome: 'presented', messageId: randomUUID() }),
  closeOffer: async () => undefined,
  // The offer's maker is no user and there is no account manager: no follow-up task.
  openTask: async () => undefined,
  acceptOffer: async () => ({ confirmationMessageId: randomUUID(), changed: true }),
  ...over,
});

async function run(over: FakeActivities, validForMs = 14 * DAY) {
  const w = await fakeWorker(env, fakes(over));
  const offerId = randomUUID();
  const now = await env.currentTimeMs();
  const input: OfferInput = {
    offerId,
    customerId: randomUUID(),
    kind: 'upsell',
    productId: 'internet-m',
    validUntil: new Date(now + validForMs).toISOString(),
    actor: 'agent',
  };
  const result = await w.run(async () => {
    const handle = await env.client.workflow.start<typeof offer>('offer', {
      taskQueue: w.taskQueue,
      workflowId: `offer-${offerId}`,
      args: [input],
    });
    return { outcome: await handle.result(), state: await handle.query(offerStateQuery) };
  });
  return { ...result, w, input, startedAt: now };
}

it('an offer a rule refuses ends ineligible, naming the rule, and is never sent', async () => {
  const { outcome, w } = await run({
    decideOfferEligibility: async () => ({
      eligible: false,
      rule: 'upsell-higher-tier-in-owned-category',
      reason: 'the customer owns no internet product',
    }),
  });
  expect(outcome).toMatchObject({
    status: 'ineligible',
    rule: 'upsell-higher-tier-in-owned-category',
    reason: 'the customer owns no internet product',
  });
  expect(w.callsOf('presentOffer')).toEqual([]);
});

it('a presented offer nobody answers expires when its validity ends, and the record is closed as expired', async () => {
  const { outcome, w, input } = await run({});
  expect(outcome.status).toBe('expired');
  expect(outcome.reason).toBe(`no answer by ${input.validUntil}`);
  expect(w.callsOf('closeOffer')).toMatchObject([{ status: 'expired', actor: 'system' }]);
  expect(w.callsOf('deliverMessage')).toHaveLength(1);
});

it('an offer held back by quiet hours is sent when they end, then waits for its answer', async () => {
  let asked = 0;
  const { outcome, state, w } = await run({
    presentOffer: async (input) => {
      asked++;
      return asked === 1
        ? { outcome: 'deferred', why: 'quiet-hours', resumeAt: new Date(Date.parse(input.now) + 8 * 3_600_000).toISOString() }
        : { outcome: 'presented', messageId: randomUUID() };
    },
  });
  expect(state.transitions.map((t) => t.status)).toEqual(['checking', 'deferred', 'presented', 'expired']);
  expect(outcome.status).toBe('expired');
  const [first, second] = w.callsOf('presentOffer') as Array<{ now: string }>;
  expect(Date.parse(second!.now) - Date.parse(first!.now)).toBeGreaterThanOrEqual(8 * 3_600_000);
});

it('an offer the gate holds back beyond its validity expires unsent', async () => {
  const { outcome, w } = await run(
    {
      presentOffer: async (input) => ({
        outcome: 'deferred',
        why: 'frequency-cap',
        resumeAt: new Date(Date.parse(input.now) + 7 * DAY).toISOString(),
      }),
    },
    2 * DAY,
  );
  expect(outcome).toMatchObject({ status: 'expired' });
  expect(w.callsOf('closeOffer')).toMatchObject([{ status: 'expired', reason: 'expired before it could be sent' }]);
  expect(w.callsOf('deliverMessage')).toEqual([]);
});

it('an offer to a customer who became uncontactable is withdrawn with the reason', async () => {
  const { outcome, w } = await run({ presentOffer: async () => ({ outcome: 'suppressed', reason: 'the customer opted out' }) });
  expect(outcome).toMatchObject({ status: 'withdrawn', reason: 'the customer opted out' });
  expect(w.callsOf('closeOffer')).toMatchObject([{ status: 'withdrawn' }]);
});
