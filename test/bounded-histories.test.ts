/**
 * Bounded histories: long-lived workflows continue as new before their history or their updates
 * approach Temporal's limits (workflows/history-budget.ts), carrying their state, and lose nothing
 * on the way. The limits are lowered through the workflow's input (the defaults are thousands), so
 * a few requests drive a run past them; everything else goes through the real API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { registerCustomer, waitForChange } from './support/master-data.js';
import { createTaskActivities } from '../activities/tasks.js';
import { masterDataStateQuery, masterDataWorkflowId } from '../src/domain/master-data.js';
import { taskWorkflowId } from '../src/domain/tasks.js';
import { insertCustomer } from '../src/db/repositories/customers.js';
import { leadFunnelStart, leadIntakeSchema } from '../src/domain/acquisition.js';
import { onboardingWorkflowId, type OnboardingInput, type OnboardingState } from '../src/domain/onboarding.js';

const { EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW } = temporal.api.enums.v1.EventType;

let h: Harness;
beforeAll(async () => {
  h = await startHarness('bounded_histories');
});
afterAll(async () => {
  await h?.close();
});

/** The runs of a workflow, oldest first, and how each ended. */
async function runsOf(workflowId: string): Promise<Array<{ runId: string; status: string }>> {
  const runs: Array<{ runId: string; status: string }> = [];
  for await (const w of h.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ runId: w.runId, status: w.status.name });
  return runs.reverse();
}

async function continuedAsNew(workflowId: string, runId: string): Promise<boolean> {
  const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events?.at(-1)?.eventType === EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW;
}

describe('bounded histories', () => {
  it('the change desk continues as new past its update limit, carries its queue, caps it, and loses no change', async () => {
    const customer = await registerCustomer(h);
    const deskId = masterDataWorkflowId(customer.id);
    // The desk as the API would start it, with low limits: 5 updates per run, 6 changes waiting.
    const desk = await h.client.workflow.start('customerMasterData', {
      taskQueue: h.taskQueue,
      workflowId: deskId,
      args: [{ customerId: customer.id, limits: { updates: 5, maxQueued: 6 } }],
    });
    const firstRun = desk.firstExecutionRunId;

    const submit = (n: number) => h.json('POST', `/v1/customers/${customer.id}/changes`, { body: { changes: { name: `Jane Bounded ${n}` } } });
    const ids: string[] = [];
    for (let n = 1; n <= 7; n++) {
      const res = await submit(n);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      ids.push(res.body.changeId);
    }
    // One current, six waiting: the eighth is refused, and says why.
    const refused = await submit(8);
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.detail).toMatch(/6 changes of this customer are already waiting/);

    const [c1, c2, c3, c4, c5, c6, c7] = ids as [string, string, string, string, string, string, string];
    await waitForChange(h, c1, 'awaiting-approval');
    const cancel = async (id: string) => {
      const res = await h.json('POST', `/v1/changes/${id}/cancel`, { body: { reason: 'not needed' } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    const decide = async (id: string, decision: 'approve' | 'reject') => {
      await waitForChange(h, id, 'awaiting-approval');
      const res = await h.json('POST', `/v1/changes/${id}/approval`, { as: 'backoffice', body: { decision, comment: 'checked' } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await cancel(c2);
    await cancel(c3);
    // Ten updates in this run: once c1 is decided, the desk continues as new with c4..c7 waiting.
    await decide(c1, 'reject');
    await eventually(async () => (await runsOf(deskId)).length >= 2);
    expect(await continuedAsNew(deskId, firstRun)).toBe(true);
    const carried = await eventually(async () => {
      const state = await h.client.workflow.getHandle(deskId).query(masterDataStateQuery);
      return state.current === c4 ? state : undefined;
    });
    expect(carried.queued).toEqual([c5, c6, c7]);

    await decide(c4, 'reject');
    await cancel(c5);
    await cancel(c6);
    await decide(c7, 'approve');
    await waitForChange(h, c7, 'applied');

    const statuses = await Promise.all(ids.map(async (id) => (await h.json('GET', `/v1/changes/${id}`)).body.status));
    expect(statuses).toEqual(['rejected', 'cancelled', 'cancelled', 'rejected', 'cancelled', 'cancelled', 'applied']);
    expect((await h.json('GET', `/v1/customers/${customer.id}`)).body.name).toBe('Jane Bounded 7');
    const runs = await runsOf(deskId);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.slice(0, -1).every((r) => r.status === 'CONTINUED_AS_NEW')).toBe(true);
  }, 180_000);

  it('a task continues as new past its update limit and keeps every snooze and its completion', async () => {
    const acts = createTaskActivities({ pool: h.pool });
    const taskId = crypto.randomUUID();
    const opened = await acts.openTask({
      kind: 'lead-contact',
      title: 'Call back about the offer',
      ownerId: h.users.agent.id,
      dueInMs: 86_400_000,
      process: 'acquisition',
      step: uniqueId('bounded'),
      taskId,
      workflowId: uniqueId('origin'),
      actor: 'system',
    });
    expect(opened?.taskId).toBe(taskId);
    const { messageId: _sent, ...task } = opened!;
    const workflowId = taskWorkflowId(taskId);
    const handle = await h.client.workflow.start('taskWorkflow', {
      taskQueue: h.taskQueue,
      workflowId,
      args: [{ task, originWorkflowId: uniqueId('gone'), rearmMs: 86_400_000, limits: { updates: 3 } }],
    });

    const snoozes = 8;
    for (let i = 1; i <= snoozes; i++) {
      const until = new Date(Date.now() + (i + 1) * 86_400_000).toISOString();
      const res = await h.json('POST', `/v1/tasks/${taskId}/snooze`, { body: { until } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.snoozedUntil).toBe(until);
    }
    const done = await h.json('POST', `/v1/tasks/${taskId}/complete`, { body: { outcome: 'called back' } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.status).toBe('done');
    await h.client.workflow.getHandle(workflowId).result();

    const runs = await runsOf(workflowId);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(await continuedAsNew(workflowId, handle.firstExecutionRunId)).toBe(true);
    const { rows } = await h.pool.query<{ kind: string; n: string }>('SELECT kind, count(*) AS n FROM task_events WHERE task_id = $1 GROUP BY kind', [taskId]);
    expect(Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]))).toMatchObject({ snoozed: snoozes, completed: 1 });
  }, 180_000);

  it('an onboarding continues as new past its update and signal limits, carries attempts, first contact and record, and sends nothing twice', async () => {
    // A customer with no registration process, so the test starts the onboarding itself with low limits.
    const customerId = crypto.randomUUID();
    const email = `${uniqueId('bounded-onb')}@example.com`;
    const db = await h.pool.connect();
    try {
      const res = await insertCustomer(db, { id: customerId, request: { name: 'Bo Unded', email, locale: 'en' }, emailNormalized: email, actor: 'test' });
      expect(res.inserted).toBe(true);
    } finally {
      db.release();
    }
    const workflowId = onboardingWorkflowId(customerId);
    const input: OnboardingInput = { customerId, name: 'Bo Unded', email, locale: 'en', origin: 'registration', limits: { updates: 3, signals: 3 } };
    const handle = await h.client.workflow.start('customerOnboarding', { taskQueue: h.taskQueue, workflowId, args: [input] });
    const state = async () => (await h.json('GET', `/v1/customers/${customerId}/onboarding`)).body as OnboardingState & { firstContact: { doneAt?: string } };
    await eventually(async () => ((await state()).status === 'in-progress' ? true : undefined));
    const code = (await eventually(async () => (await h.mailbox(email)).find((m) => m.template === 'onboarding-opt-in'))).payload.code as string;
    const wrong = code === '000000' ? '111111' : '000000';

    // Four wrong codes: the fourth lands in the second run, which knows the three before it.
    for (let left = 4; left >= 1; left--) {
      const res = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: wrong } });
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.attemptsLeft).toBe(left);
    }
    await eventually(async () => ((await runsOf(workflowId)).length >= 2 ? true : undefined));
    expect(await continuedAsNew(workflowId, handle.firstExecutionRunId)).toBe(true);
    // Internal notes are signals too (not a contact); then a call, which is the first contact.
    for (let i = 0; i < 3; i++) {
      const note = await h.json('POST', `/v1/customers/${customerId}/interactions`, { body: { channel: 'note', direction: 'internal', summary: `note ${i}` } });
      expect(note.status, JSON.stringify(note.body)).toBe(201);
    }
    const right = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code } });
    expect(right.status, JSON.stringify(right.body)).toBe(200);
    const call = await h.json('POST', `/v1/customers/${customerId}/interactions`, {
      body: { channel: 'call', direction: 'outbound', summary: 'Welcome call' },
    });
    expect(call.status).toBe(201);
    const last = await eventually(async () => {
      const s = await state();
      return s.firstContact.doneAt && s.optIn.status === 'confirmed' ? s : undefined;
    });
    // Visibility lists the runs a moment after they start.
    await eventually(async () => ((await runsOf(workflowId)).length >= 3 ? true : undefined));
    expect(last.optIn.attempts).toBe(4);
    expect(last.transitions.map((t) => t.status)).toEqual(['starting', 'in-progress']);
    // Each message once across the runs: one code, one welcome; the first-contact task done once.
    await eventually(async () => ((await h.mailbox(email)).some((m) => m.template === 'onboarding-welcome') ? true : undefined));
    const { rows } = await h.pool.query<{ template: string; n: number }>(
      'SELECT template, count(*)::int AS n FROM notification_outbox WHERE customer_id = $1 GROUP BY template ORDER BY template',
      [customerId],
    );
    expect(Object.fromEntries(rows.map((r) => [r.template, r.n]))).toMatchObject({ 'onboarding-opt-in': 1, 'onboarding-welcome': 1 });
    const tasks = await eventually(async () => {
      const t = await h.pool.query<{ kind: string; status: string }>('SELECT kind, status FROM tasks WHERE customer_id = $1', [customerId]);
      return t.rows.every((r) => r.status !== 'open') ? t.rows : undefined;
    });
    expect(tasks).toEqual([{ kind: 'onboarding-first-contact', status: 'done' }]);
    const row = await h.pool.query('SELECT status, opt_in_confirmed_at IS NOT NULL AS confirmed FROM customer_onboardings WHERE customer_id = $1', [
      customerId,
    ]);
    expect(row.rows[0]).toEqual({ status: 'in-progress', confirmed: true });
    await handle.terminate('test over');
  }, 180_000);

  it('a lead funnel continues as new past its update and signal limits, and goes on to won with every step recorded once', async () => {
    const leadId = crypto.randomUUID();
    const intake = leadIntakeSchema.parse({ name: 'Lee Bounded', email: `${uniqueId('bounded-lead')}@example.com`, company: 'Budget Ltd', source: 'web' });
    // Started as the API starts it, with low limits: 2 updates and 2 signals per run.
    const start = leadFunnelStart(leadId, intake, h.users.agent.id, 'bounded-histories test');
    const handle = await h.client.workflow.start('leadFunnel', {
      taskQueue: h.taskQueue,
      ...start,
      args: [{ ...start.args[0], limits: { updates: 2, signals: 2 } }],
    });
    await eventually(async () => ((await h.json('GET', `/v1/leads/${leadId}`)).status === 200 ? true : undefined));
    for (let i = 0; i < 3; i++) {
      const note = await h.json('POST', `/v1/leads/${leadId}/interactions`, { body: { channel: 'note', direction: 'internal', summary: `note ${i}` } });
      expect(note.status, JSON.stringify(note.body)).toBe(201);
    }
    for (const step of [
      { to: 'contacted' },
      { to: 'qualified', need: 'x', budget: 1, timeline: 'now' },
      { to: 'proposal', product: 'CRM Solo', amount: 500 },
      { to: 'won' },
    ]) {
      const res = await h.json('POST', `/v1/leads/${leadId}/transitions`, { body: step });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'won', leadId });
    expect((await runsOf(start.workflowId)).length).toBeGreaterThanOrEqual(3);
    expect(await continuedAsNew(start.workflowId, handle.firstExecutionRunId)).toBe(true);
    // Every stage once in the record, one customer, one onboarding.
    const lead = (await h.json('GET', `/v1/leads/${leadId}`)).body;
    expect(lead.stage).toBe('won');
    const { rows } = await h.pool.query<{ to_stage: string }>("SELECT to_stage FROM lead_transitions WHERE lead_id = $1 AND kind = 'stage' ORDER BY seq", [
      leadId,
    ]);
    expect(rows.map((r) => r.to_stage)).toEqual(['new', 'contacted', 'qualified', 'proposal', 'won']);
    const customers = await h.pool.query('SELECT id FROM customers WHERE email = $1', [intake.email]);
    expect(customers.rows).toEqual([{ id: lead.customerId }]);
    await eventually(async () => ((await h.json('GET', `/v1/customers/${lead.customerId}/onboarding`)).status === 200 ? true : undefined));
  }, 180_000);
});
