/**
 * The change desk's approval timers with its activities replaced, and where its policy comes
 * from: the worker's (asked once per change) unless the request carries one, as requests of runs
 * recorded before the policy became the worker's do. The desk starts with a queued change, as
 * after continue-as-new, so no Update is needed; days pass in moments on the time-skipping server.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { fakeWorker } from '../support/fake-activities.js';
import { DEFAULT_MASTER_DATA_POLICY, changeStateQuery, type ChangeState, type MasterDataPolicy, type SubmitChangeInput } from '../../src/domain/master-data.js';
import type { customerMasterData } from '../../workflows/master-data.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const WORKER_POLICY: MasterDataPolicy = { ...DEFAULT_MASTER_DATA_POLICY, backofficeEmail: 'approvals@example.com' };

/** A name change (it needs a second person's approval) queued at the desk; nobody decides. */
async function unapprovedNameChange(carried?: MasterDataPolicy) {
  const w = await fakeWorker(env, {
    masterDataPolicy: async () => WORKER_POLICY,
    recordChangeState: async () => undefined,
    queueCustomerMessage: async () => randomUUID(),
    // Nobody who may approve is a user here: no approval task, the backoffice e-mails as before.
    openTask: async () => undefined,
  });
  const customerId = randomUUID();
  const changeId = randomUUID();
  const at = new Date(await env.currentTimeMs()).toISOString();
  const request: SubmitChangeInput = {
    changeId,
    customerId,
    changes: { name: 'Ada King' },
    base: { name: 'Ada Lovelace' },
    baseVersion: 1,
    requestedBy: 'agent-actor',
    ...(carried ? { policy: carried } : {}),
  };
  const state: ChangeState = {
    changeId,
    customerId,
    status: 'queued',
    fields: ['name'],
    requestedBy: 'agent-actor',
    preview: { name: 'Ada King' },
    approval: { required: true, escalated: false },
    transitions: [{ status: 'queued', at, actor: 'agent-actor' }],
  };
  const change = await w.run(async () => {
    const desk = await env.client.workflow.start<typeof customerMasterData>('customerMasterData', {
      taskQueue: w.taskQueue,
      workflowId: `master-data-${customerId}`,
      args: [{ customerId, queued: [{ request, state }] }],
    });
    await desk.result();
    return desk.query(changeStateQuery, changeId);
  });
  const messages = w.callsOf('queueCustomerMessage') as Array<{ template: string; to: unknown }>;
  return { change: change!, messages, w };
}

it('a change nobody approves is escalated after the approval timeout and expires at the approval expiry, under the worker’s policy', async () => {
  const { change, messages, w } = await unapprovedNameChange();
  expect(w.callsOf('masterDataPolicy')).toHaveLength(1);
  expect(change.status).toBe('expired');
  expect(change.transitions.map((t) => [t.status, t.reason])).toEqual([
    ['queued', undefined],
    ['awaiting-approval', undefined],
    ['escalated', 'no decision within 48 hours'],
    ['expired', 'no approval within 14 days'],
  ]);
  // The timer runs from the request to the backoffice, a moment after entering awaiting-approval.
  const waited = Date.parse(change.transitions[2]!.at) - Date.parse(change.transitions[1]!.at);
  expect(waited).toBeGreaterThanOrEqual(48 * 3_600_000);
  expect(waited).toBeLessThan(48 * 3_600_000 + 60_000);
  expect(messages.map((m) => [m.template, m.to])).toEqual([
    ['approval-needed', { channel: 'email', recipient: WORKER_POLICY.backofficeEmail }],
    ['approval-needed', { channel: 'email', recipient: WORKER_POLICY.backofficeEmail }],
    ['master-data-failed', 'email'],
  ]);
});

it('a request that carries its policy, as recorded runs do, runs under it and never asks the worker', async () => {
  const { change, w } = await unapprovedNameChange({ ...DEFAULT_MASTER_DATA_POLICY, approvalTimeout: '1 hour', approvalExpiry: '2 hours' });
  expect(w.callsOf('masterDataPolicy')).toEqual([]);
  expect(change.transitions.map((t) => t.reason).slice(2)).toEqual(['no decision within 1 hour', 'no approval within 2 hours']);
});
