// Lead timers that span days (contact SLA, idle to nurture, re-activation), on the time-skipping test server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@temporalio/client';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { createApi } from '../src/api/app.js';
import { devKeyEntries, type DevUser } from '../src/dev/dev-keys.js';
import { createLogger } from '../src/logger.js';

let h: Harness;
let api: ReturnType<typeof createApi>;
beforeAll(async () => {
  h = await startHarness('acquisition_timers', { timeSkipping: true });
  // The API is a user and must not move time: the time-skipping client would skip ahead (firing
  // every timer of the file) whenever the API waits for a workflow's result. So this API gets a
  // plain client on the same server, with the harness's payload converter.
  const temporal = new Client({ connection: h.client.connection, namespace: 'default', dataConverter: h.client.options.dataConverter });
  api = createApi({
    pool: h.pool,
    temporal,
    taskQueue: h.taskQueue,
    pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
    logger: createLogger('silent'),
    keys: devKeyEntries(h.keys),
  });
});
afterAll(async () => {
  await h?.close();
});

async function call(method: string, url: string, o: { as?: DevUser; body?: unknown } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${h.keys[o.as ?? 'agent']}` };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await api.request(url, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const email = () => `${uniqueId('lead')}@example.com`;
const lead = (overrides: Record<string, unknown> = {}) => ({
  name: 'Jane Doe',
  email: email(),
  company: 'ACME',
  source: 'web',
  ...overrides,
});

async function intake(body: Record<string, unknown> = lead()): Promise<{ id: string; owner: string }> {
  const res = await call('POST', '/v1/leads', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return { id: res.body.leadId, owner: res.body.owner };
}

async function moveOk(id: string, body: Record<string, unknown>) {
  const res = await call('POST', `/v1/leads/${id}/transitions`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const leadState = async (id: string) => (await call('GET', `/v1/leads/${id}`)).body;
const tasksOf = async (leadId: string) =>
  (await h.pool.query('SELECT id, kind, status, owner_id, escalation_level FROM tasks WHERE lead_id = $1 ORDER BY created_at, id', [leadId])).rows;

async function messages(template: string, where: string, params: unknown[]) {
  const { rows } = await h.pool.query(`SELECT recipient, payload, sent_at FROM notification_outbox WHERE template = $1 AND ${where}`, [template, ...params]);
  return rows;
}

describe('lead timers', () => {
  it('a lead not contacted within 2 days hands its owner a task, which goes to the team lead when overdue', async () => {
    const { id, owner } = await intake(lead({ name: 'Slow Response' }));
    // The owner is a user: the task is theirs and is announced to their e-mail.
    const ownerUser = [h.users.agent, h.users.agent2].find((u) => u.id === owner)!;
    expect(ownerUser).toBeDefined();

    await h.env!.sleep('2 days');
    const task = await eventually(async () => (await tasksOf(id))[0]);
    expect(task).toMatchObject({ kind: 'lead-contact', status: 'open', owner_id: owner, escalation_level: 0 });
    const assigned = await eventually(async () => (await messages('task-assigned', `payload->>'taskId' = $2`, [task.id]))[0]);
    expect(assigned.recipient).toBe(ownerUser.email);
    // The task escalates by itself: the funnel sends no reminder or escalation e-mail of its own.
    expect(await messages('lead-contact-reminder', `payload->>'leadId' = $2`, [id])).toHaveLength(0);

    await h.env!.sleep('2 days');
    const escalated = await eventually(async () => {
      const [t] = await tasksOf(id);
      return t && t.escalation_level >= 1 ? t : undefined;
    });
    // The Sales team is led by the backoffice user.
    expect(escalated.owner_id).toBe(h.users.backoffice.id);
    expect(await messages('lead-contact-escalation', `payload->>'leadId' = $2`, [id])).toHaveLength(0);
    const state = await leadState(id);
    expect(state.stage).toBe('new');
    expect(await tasksOf(id)).toHaveLength(1);
  });

  it('a lead handed to another owner hands the new owner the task', async () => {
    const { id } = await intake();
    const { user } = await h.createUser({ name: 'New Owner' });
    expect((await call('POST', `/v1/leads/${id}/owner`, { body: { ownerId: user.id } })).status).toBe(200);
    await h.env!.sleep('2 days');
    const task = await eventually(async () => (await tasksOf(id))[0]);
    expect(task.owner_id).toBe(user.id);
    const assigned = await eventually(async () => (await messages('task-assigned', `payload->>'taskId' = $2`, [task.id]))[0]);
    expect(assigned.recipient).toBe(user.email);
  });

  it('an interaction within the SLA counts as contact and stops the reminder', async () => {
    const { id } = await intake();
    await h.env!.sleep('1 day');
    const recorded = await call('POST', `/v1/leads/${id}/interactions`, {
      body: { channel: 'call', direction: 'outbound', summary: 'Reached them' },
    });
    expect(recorded.status).toBe(201);
    await eventually(async () => (await leadState(id)).stage === 'contacted');
    await h.env!.sleep('3 days');
    const state = await leadState(id);
    expect(state.stage).toBe('contacted');
    expect(state.alerts).toEqual([]);
    expect(await messages('lead-contact-reminder', `payload->>'leadId' = $2`, [id])).toHaveLength(0);
  });

  it('a qualified lead idle for 30 days goes to nurture and comes back after 90 days with a fresh score', async () => {
    const { id } = await intake(lead({ source: 'event', companySize: '11-50' }));
    await moveOk(id, { to: 'contacted' });
    await moveOk(id, { to: 'qualified', need: 'pipeline visibility', budget: 5000, timeline: 'next year' });
    const before = (await leadState(id)).score;
    expect(before.value).toBe(35);

    await h.env!.sleep('29 days');
    expect((await leadState(id)).stage).toBe('qualified');
    await h.env!.sleep('1 day');
    const nurtured = await eventually(async () => {
      const s = await leadState(id);
      return s.stage === 'nurture' ? s : undefined;
    });
    expect(nurtured.transitions.at(-1)).toMatchObject({
      from: 'qualified',
      to: 'nurture',
      actor: 'system',
      reason: 'no activity for 30 days',
    });
    expect(nurtured.nextDue.kind).toBe('reactivation');
    expect(Date.parse(nurtured.nextDue.at) - Date.parse(nurtured.transitions.at(-1).at)).toBe(90 * 86_400_000);

    // Engagement while nurtured counts in the fresh score.
    for (const body of [
      { channel: 'email', direction: 'inbound', summary: 'Asked for a newsletter' },
      { channel: 'meeting', direction: 'outbound', summary: 'Met at a fair' },
    ]) {
      expect((await call('POST', `/v1/leads/${id}/interactions`, { body })).status).toBe(201);
    }
    await eventually(async () => (await leadState(id)).interactions === 2);
    expect((await leadState(id)).stage).toBe('nurture');

    await h.env!.sleep('90 days');
    const back = await eventually(async () => {
      const s = await leadState(id);
      return s.stage === 'new' ? s : undefined;
    });
    expect(back.transitions.at(-1)).toMatchObject({
      from: 'nurture',
      to: 'new',
      actor: 'system',
      reason: 're-activated after 90 days in nurture; score 35 → 50',
    });
    expect(back.score.value).toBe(50);
    expect(back.score.reasons.at(-1)).toEqual({ rule: 'engagement', points: 15, detail: '1 inbound contact(s), 1 meeting(s)' });
    expect(Date.parse(back.score.scoredAt)).toBeGreaterThan(Date.parse(before.scoredAt));
    expect(back.nextDue?.kind, JSON.stringify(back, null, 1)).toBe('contact-reminder');
    const row = await h.pool.query('SELECT stage, score FROM leads WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ stage: 'new', score: 50 });
  });
});
