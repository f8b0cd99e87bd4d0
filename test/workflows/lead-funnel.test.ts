/**
 * The lead funnel's timers and branches with its activities replaced: intake outcomes, the
 * contact SLA's reminder and escalation, idling into nurture and coming back. Days pass on the
 * time-skipping server in moments; the lead's own `state` query shows where it stands.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { fakeWorker, type FakeActivities } from '../support/fake-activities.js';
import { leadStateQuery, type AcquisitionPolicy, type LeadFunnelInput, type LeadScore, type LeadState } from '../../src/domain/acquisition.js';
import { interactionRecordedSignal, type InteractionRecorded } from '../../src/domain/contacts.js';
import type { leadFunnel } from '../../workflows/acquisition.js';

const DAY = 86_400_000;
const POLICY: AcquisitionPolicy = {
  contactSlaMs: 2 * DAY,
  idleToNurtureMs: 30 * DAY,
  nurtureReactivationMs: 90 * DAY,
  escalationEmail: 'backoffice@example.com',
};
const OWNER = 'anna.sales@example.com';
const score = (value: number): LeadScore => ({
  value,
  grade: value >= 70 ? 'A' : value >= 40 ? 'B' : 'C',
  reasons: [],
  scoredAt: new Date().toISOString(),
});

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

/** Fakes of an accepted intake; `over` replaces any of them. */
const accepting = (over: FakeActivities = {}): FakeActivities => ({
  intakeLead: async () => ({ outcome: 'accepted', owner: OWNER, score: score(40), policy: POLICY }),
  recordLead: async () => undefined,
  queueLeadMessage: async () => randomUUID(),
  // The owner is an e-mail address, no user: no task, the reminder and escalation e-mails as before.
  openTask: async () => undefined,
  rescoreLead: async () => score(55),
  ...over,
});

/** The lead's state once `holds` is true of it: the workflow acts on a fired timer a moment after the clock moves. */
async function stateWhen(lead: Awaited<ReturnType<typeof start>>, holds: (s: LeadState) => boolean): Promise<LeadState> {
  for (const deadline = Date.now() + 20_000; ;) {
    const s = await lead.query(leadStateQuery);
    if (holds(s) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a funnel; with `contact`, an interaction is recorded in the same request. */
const start = (taskQueue: string, contact?: InteractionRecorded) => {
  const leadId = randomUUID();
  const input: LeadFunnelInput = {
    leadId,
    intake: { name: 'Jane Doe', email: `${leadId}@example.com`, source: 'web', locale: 'en' },
    actor: 'web-form',
  };
  const options = { taskQueue, workflowId: `lead-${leadId}`, args: [input] as [LeadFunnelInput] };
  return contact
    ? env.client.workflow.signalWithStart<typeof leadFunnel, [InteractionRecorded]>('leadFunnel', {
        ...options,
        signal: interactionRecordedSignal,
        signalArgs: [contact],
      })
    : env.client.workflow.start<typeof leadFunnel>('leadFunnel', options);
};

it('a lead not contacted within the SLA reminds its owner, and after twice the SLA escalates to the backoffice, once each', async () => {
  const w = await fakeWorker(env, accepting());
  const state = await w.run(async () => {
    const lead = await start(w.taskQueue);
    await stateWhen(lead, (s) => s.nextDue?.kind === 'contact-reminder');
    await env.sleep('47 hours');
    expect((await lead.query(leadStateQuery)).alerts).toEqual([]);
    await env.sleep('2 hours');
    const reminded = await stateWhen(lead, (s) => s.alerts.length === 1);
    expect(reminded.alerts.map((a) => [a.kind, a.recipient])).toEqual([['contact-reminder', OWNER]]);
    await env.sleep('10 days');
    return stateWhen(lead, (s) => s.alerts.length === 2);
  });
  expect(state.alerts.map((a) => [a.kind, a.recipient])).toEqual([
    ['contact-reminder', OWNER],
    ['contact-escalation', POLICY.escalationEmail],
  ]);
  expect(state.contact).toMatchObject({ remindersSent: 1, escalated: true });
  expect(state.nextDue).toBeUndefined();
  expect(w.callsOf('queueLeadMessage').map((m) => (m as { template: string }).template)).toEqual(['lead-contact-reminder', 'lead-contact-escalation']);
});

it('a contact before the SLA moves the lead on with no reminder; idle for 30 days it goes to nurture, and after 90 days there it is new again, rescored', async () => {
  const w = await fakeWorker(env, accepting());
  const state = await w.run(async () => {
    // The call is recorded as the lead arrives: a skipped clock cannot let the SLA pass first.
    const contact = {
      eventId: randomUUID(),
      channel: 'call' as const,
      direction: 'outbound' as const,
      occurredAt: new Date(await env.currentTimeMs()).toISOString(),
      recordedBy: OWNER,
    };
    const lead = await start(w.taskQueue, contact);
    await stateWhen(lead, (s) => s.nextDue?.kind === 'idle-to-nurture');
    await env.sleep('31 days');
    await stateWhen(lead, (s) => s.stage === 'nurture');
    // Back in new after 90 days; its new contact SLA (2 days) has not yet run out.
    await env.sleep('90 days');
    return stateWhen(lead, (s) => s.transitions.length === 4);
  });
  expect(state.transitions.map((t) => t.to)).toEqual(['new', 'contacted', 'nurture', 'new']);
  expect(state.transitions[2]!.reason).toBe('no activity for 30 days');
  expect(state.transitions[3]!.reason).toBe('re-activated after 90 days in nurture; score 40 → 55');
  expect(state.alerts).toEqual([]);
  expect(state.nextDue?.kind).toBe('contact-reminder');
});

it('a duplicate intake ends the funnel at once, naming the open lead it duplicates', async () => {
  const w = await fakeWorker(env, { intakeLead: async () => ({ outcome: 'duplicate', existingLeadId: 'lead-1' }) });
  const result = await w.run(async () => (await start(w.taskQueue)).result());
  expect(result).toMatchObject({ outcome: 'duplicate', reason: 'an open lead exists: lead-1' });
  expect(w.callsOf('recordLead')).toEqual([]);
});
