/**
 * Tasks end to end: processes open them for users, an overdue task climbs the team, completing
 * one moves its process, and people list, complete, snooze and reassign them over HTTP. Timers are
 * short settings handed to the worker (the contact SLA, the first-contact SLA), on the dev server.
 * Users and teams are rows of this test's schema, each with an API key of their own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { grantMarketingConsent } from './support/consent.js';
import { inTransaction } from '../src/db/pool.js';
import { insertTask, openedTask } from '../src/db/repositories/tasks.js';
import { CrmExpectedClose, CrmOwner, CrmSource, CrmStatus, CrmTeam } from '../src/domain/search-attributes.js';
import { taskWorkflowId, type TaskKind, type TaskWorkflowInput } from '../src/domain/tasks.js';

const CONTACT_SLA_MS = 3_000;
const FIRST_CONTACT_SLA_MS = 60 * 60_000;
const CHECK_IN_AFTER_MS = 10 * 60_000;

let h: Harness;
const team = randomUUID();
const otherTeam = randomUUID();
const users = { lena: randomUUID(), anna: randomUUID(), carl: randomUUID(), olga: randomUUID(), ina: randomUUID() };
let keys: Record<keyof typeof users, string>;
let teamless: string;

beforeAll(async () => {
  // Owners and account managers come from the lead team's rotation (the harness's Sales team): the test follows the task's owner.
  const acquisition = { contactSlaMs: CONTACT_SLA_MS, firstContactSlaMs: FIRST_CONTACT_SLA_MS, checkInAfterMs: CHECK_IN_AFTER_MS };
  h = await startHarness('tasks', { acquisition });
  // Lena leads the team of Anna and Carl (Europe/Berlin); Olga is alone in another team in Auckland; Ina left.
  await h.pool.query(`INSERT INTO teams (id, name) VALUES ($1, 'Inside sales'), ($2, 'Far east')`, [team, otherTeam]);
  await h.pool.query(
    `INSERT INTO users (id, name, email, roles, team_id, active, time_zone) VALUES
       ($1, 'Lena Lead', 'lena@example.com', '{agent}', $6, true, 'Europe/Berlin'),
       ($2, 'Anna Rep', 'anna@example.com', '{agent}', $6, true, 'Europe/Berlin'),
       ($3, 'Carl Rep', 'carl@example.com', '{agent}', $6, true, 'Europe/Berlin'),
       ($4, 'Olga Far', 'olga@example.com', '{agent}', $7, true, 'Pacific/Auckland'),
       ($5, 'Ina Gone', 'ina@example.com', '{agent}', $6, false, 'Europe/Berlin')`,
    [users.lena, users.anna, users.carl, users.olga, users.ina, team, otherTeam],
  );
  await h.pool.query('UPDATE teams SET lead_user_id = $1 WHERE id = $2', [users.lena, team]);
  const active = ['lena', 'anna', 'carl', 'olga'] as const;
  keys = Object.fromEntries(await Promise.all(active.map(async (u) => [u, await h.issueKey(users[u])]))) as Record<keyof typeof users, string>;
  teamless = (await h.createUser({ teamId: null, email: `tom.${randomUUID()}@example.com` })).key;
});
afterAll(async () => {
  // Open offers and tasks wait for days: ended here so they do not linger on the shared dev server.
  const open = await h?.pool.query<{ workflow_id: string }>(
    `SELECT 'task-' || id AS workflow_id FROM tasks WHERE status = 'open' UNION SELECT workflow_id FROM offers WHERE status = 'presented'`,
  );
  await Promise.all(
    (open?.rows ?? []).map((r) =>
      h.client.workflow
        .getHandle(r.workflow_id)
        .terminate('tasks test cleanup')
        .catch(() => undefined),
    ),
  );
  await h?.close();
});

/** A request as one of this file's users (by name) or with a raw key; the harness checks the answer against /openapi.json. */
async function call(method: string, url: string, o: { as?: keyof typeof users; key?: string; body?: unknown } = {}) {
  const res = await h.json(method, url, { body: o.body, headers: { authorization: `Bearer ${o.key ?? keys[o.as ?? 'anna']}` } });
  return { status: res.status, body: res.body };
}

/** Waits until the task's workflow runs (its process starts it right after writing the task). */
const running = (taskId: string) => eventually(async () => (await h.client.workflow.getHandle(taskWorkflowId(taskId)).describe()).status.name === 'RUNNING');

const taskRow = async (where: string, params: unknown[]) => (await h.pool.query(`SELECT * FROM tasks WHERE ${where}`, params)).rows[0];

/** Takes in a lead; its owner is whoever the configured rotation names (this file's Anna, or a seeded team's agent). */
async function intakeLead(
  name: string,
): Promise<{ leadId: string; owner: { id: string; email: string; key: string }; lead: { id: string; email: string; key: string } }> {
  const res = await call('POST', '/v1/leads', { body: { name, email: `${uniqueId('lead')}@example.com`, company: 'ACME', source: 'web' } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const { rows } = await h.pool.query(
    `SELECT u.id, u.email, l.id AS lead_id, l.email AS lead_email FROM users u JOIN teams t ON t.id = u.team_id JOIN users l ON l.id = t.lead_user_id WHERE u.id::text = $1`,
    [res.body.owner],
  );
  expect(rows[0], `the owner ${res.body.owner} is a user in a team with a lead`).toBeDefined();
  const r = rows[0]!;
  return {
    leadId: res.body.leadId,
    owner: { id: r.id, email: r.email, key: await h.issueKey(r.id) },
    lead: { id: r.lead_id, email: r.lead_email, key: await h.issueKey(r.lead_id) },
  };
}

/** A task written as a process's activity writes it, with its workflow started as the process starts it. */
async function seedTask(o: { owner: string; dueInMs: number; kind?: TaskKind; title?: string }) {
  const task = await inTransaction(h.pool, async (db) =>
    insertTask(db, {
      taskId: randomUUID(),
      kind: o.kind ?? 'offer-follow-up',
      title: o.title ?? 'Follow up the offer',
      ownerId: o.owner,
      dueInMs: o.dueInMs,
      process: 'offers',
      step: 'follow-up',
      workflowId: uniqueId('seeded'),
      actor: 'system',
    }),
  );
  const input: TaskWorkflowInput = { task: openedTask(task!.task), originWorkflowId: uniqueId('no-such-process'), rearmMs: 60 * 60_000 };
  await h.client.workflow.start('taskWorkflow', { taskQueue: h.taskQueue, workflowId: taskWorkflowId(task!.task.id), args: [input] });
  return task!.task.id;
}

describe('processes hand work to people as tasks', () => {
  it("a lead's SLA breach creates a task for its owner that escalates to the team lead when overdue", async () => {
    const { leadId, owner, lead: teamLead } = await intakeLead('Slow Response');

    // The SLA is missed: the owner gets a task for the lead (and a message saying so).
    const opened = await eventually(() => taskRow('lead_id = $1', [leadId]), { timeoutMs: 30_000 });
    expect(opened).toMatchObject({ kind: 'lead-contact', status: 'open', owner_id: owner.id, priority: 'high', process: 'acquisition' });
    expect(opened.workflow_id).toBe(`lead-${leadId}`);
    const mine = await call('GET', '/v1/tasks?view=mine', { key: owner.key });
    expect(mine.body.items.map((t: { id: string }) => t.id)).toContain(opened.id);
    await eventually(async () => (await h.mailbox(owner.email)).find((m) => m.template === 'task-assigned' && m.payload.taskId === opened.id));
    // The funnel plans no escalation e-mail of its own any more: the task escalates.
    const lead = await eventually(async () => {
      const l = (await call('GET', `/v1/leads/${leadId}`)).body;
      return l.alerts?.length ? l : undefined;
    });
    expect(lead.stage).toBe('new');
    expect(lead.nextDue ?? null).toBeNull();

    // Overdue: it goes to the team lead, with a new due date, and its timer keeps running.
    const escalated = await eventually(async () => {
      const t = await call('GET', `/v1/tasks/${opened.id}`);
      return t.body.escalationLevel >= 1 ? t.body : undefined;
    });
    expect(escalated.ownerId).toBe(teamLead.id);
    const step = escalated.timeline.find((e: { kind: string }) => e.kind === 'escalated');
    expect(step).toMatchObject({ fromOwner: owner.id, toOwner: teamLead.id, actor: 'system' });
    expect(Date.parse(escalated.dueAt)).toBeGreaterThan(Date.parse(opened.due_at));
    await eventually(async () => (await h.mailbox(teamLead.email)).find((m) => m.template === 'task-assigned' && m.payload.taskId === opened.id));
    const teamList = await call('GET', '/v1/tasks?view=team', { key: owner.key });
    expect(teamList.body.items.map((t: { id: string }) => t.id)).toContain(opened.id);
    // Still undone after the escalation: the timer left running raises it again (nobody is above the team lead).
    const again = await eventually(async () => {
      const t = await call('GET', `/v1/tasks/${opened.id}`);
      return t.body.escalationLevel >= 2 ? t.body : undefined;
    });
    expect(again.ownerId).toBe(teamLead.id);
    // What analytics learns SLA adherence from (TASK_ATTRIBUTE in src/domain/processes.ts): overdue, its kind, owner, team and due time.
    const published = await eventually(async () => {
      const t = (await call('GET', `/v1/tasks/${opened.id}`)).body;
      const sa = (await h.client.workflow.getHandle(taskWorkflowId(opened.id)).describe()).typedSearchAttributes;
      const same =
        sa.get(CrmStatus) === 'overdue' && sa.get(CrmOwner) === t.ownerId && sa.get(CrmExpectedClose)?.toISOString() === new Date(t.dueAt).toISOString();
      return same ? { sa, t } : undefined;
    });
    expect(published.t.ownerId).toBe(teamLead.id);
    expect(published.sa.get(CrmSource)).toBe('lead-contact');
    expect(published.sa.get(CrmTeam)).toBe(published.t.teamId);
    const audit = await h.pool.query(`SELECT field, actor FROM audit_log WHERE workflow_id = $1 ORDER BY id`, [taskWorkflowId(opened.id)]);
    expect(audit.rows.map((r) => r.field)).toEqual(['task.status', 'task.owner', 'task.owner']);

    // Completing it moves the lead: it is contacted, by the person who completed the task.
    const done = await call('POST', `/v1/tasks/${opened.id}/complete`, { key: teamLead.key, body: { outcome: 'called, wants a demo' } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ status: 'done', outcome: 'called, wants a demo', closedBy: teamLead.id });
    const contacted = await eventually(async () => {
      const l = await call('GET', `/v1/leads/${leadId}`);
      return l.body.stage === 'contacted' ? l.body : undefined;
    });
    expect(contacted.transitions.at(-1)).toMatchObject({ to: 'contacted', actor: teamLead.id });
    const closed = await h.client.workflow.getHandle(taskWorkflowId(opened.id)).result();
    expect(closed.status).toBe('done');
    expect((await h.client.workflow.getHandle(taskWorkflowId(opened.id)).describe()).typedSearchAttributes.get(CrmStatus)).toBe('done');
  });

  it('completing the first-contact task moves onboarding', async () => {
    const registered = await call('POST', '/v1/customers', { body: { name: 'Olivia Onboard', email: `${uniqueId('onb')}@example.com` } });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const customerId = registered.body.id;
    const task = await eventually(() => taskRow(`customer_id = $1 AND kind = 'onboarding-first-contact'`, [customerId]));
    expect(task).toMatchObject({ status: 'open', process: 'onboarding', workflow_id: `onboarding-${customerId}` });
    // The account manager has it.
    expect((await call('GET', `/v1/customers/${customerId}/onboarding`)).body.accountManager).toBe(task.owner_id);
    const managerKey = await h.issueKey(task.owner_id);
    // Written with the onboarding, in its transaction.
    expect((await call('GET', `/v1/customers/${customerId}/onboarding`)).body.firstContact.doneAt).toBeUndefined();
    const listed = await call('GET', `/v1/tasks?customerId=${customerId}`);
    expect(listed.body.items).toHaveLength(1);

    await running(task.id);
    const done = await call('POST', `/v1/tasks/${task.id}/complete`, { key: managerKey, body: { outcome: 'welcome call made' } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const onboarding = await eventually(async () => {
      const o = (await call('GET', `/v1/customers/${customerId}/onboarding`)).body;
      return o.firstContact.doneAt ? o : undefined;
    });
    expect(Date.parse(onboarding.firstContact.doneAt)).toBeGreaterThanOrEqual(Date.parse(task.created_at));
    const state = await h.client.workflow.getHandle(`onboarding-${customerId}`).query('state');
    expect((state as { firstContact: { taskOpen: boolean } }).firstContact.taskOpen).toBe(false);
  });

  it('a first contact recorded as an interaction completes the task', async () => {
    const registered = await call('POST', '/v1/customers', { body: { name: 'Ivo Interaction', email: `${uniqueId('onb')}@example.com` } });
    const customerId = registered.body.id;
    const task = await eventually(() => taskRow(`customer_id = $1 AND kind = 'onboarding-first-contact'`, [customerId]));
    const recorded = await call('POST', `/v1/customers/${customerId}/interactions`, {
      body: { channel: 'call', direction: 'outbound', summary: 'welcome call' },
    });
    expect(recorded.status, JSON.stringify(recorded.body)).toBeLessThan(300);
    const closed = await eventually(async () => {
      const t = (await call('GET', `/v1/tasks/${task.id}`)).body;
      return t.status !== 'open' ? t : undefined;
    });
    expect(closed).toMatchObject({ status: 'done', closedBy: 'system' });
    expect(closed.outcome).toContain('first contact recorded');
  });
});

describe('an offer a person made gets a follow-up task', () => {
  it('the maker follows it up; the offer records how, and the customer’s answer closes it', async () => {
    const customerId = randomUUID();
    const email = `${uniqueId('offer')}@example.com`;
    await h.pool.query(`INSERT INTO customers (id, name, email, email_normalized, created_by) VALUES ($1, 'Otto Offer', $2, $2, 'test')`, [customerId, email]);
    await h.pool.query(
      `INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) SELECT $1, id, price, 'import', now() - interval '1 year' FROM products WHERE id = 'internet-s'`,
      [customerId],
    );
    // Offers are marketing: the customer agreed to them by e-mail.
    await grantMarketingConsent(h.pool, [customerId]);
    const made = await call('POST', `/v1/customers/${customerId}/offers`, { as: 'carl', body: { kind: 'upsell', productId: 'internet-l', price: 39.99 } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const task = await eventually(() => taskRow(`customer_id = $1 AND kind = 'offer-follow-up'`, [customerId]));
    expect(task).toMatchObject({ owner_id: users.carl, status: 'open', process: 'offers', workflow_id: `offer-${made.body.offerId}` });
    // Due halfway to the offer's expiry.
    const validity = Date.parse(made.body.validUntil) - Date.parse(task.created_at);
    expect(Math.abs(Date.parse(task.due_at) - Date.parse(task.created_at) - validity / 2)).toBeLessThan(60_000);

    await running(task.id);
    expect((await call('POST', `/v1/tasks/${task.id}/complete`, { as: 'carl', body: { outcome: 'called: thinks about it' } })).status).toBe(200);
    const offer = h.client.workflow.getHandle(`offer-${made.body.offerId}`);
    const followed = await eventually(async () => {
      const s = (await offer.query('state')) as { followUp?: { open: boolean; outcome?: string; actor?: string } };
      return s.followUp && !s.followUp.open ? s.followUp : undefined;
    });
    expect(followed).toMatchObject({ outcome: 'called: thinks about it', actor: users.carl });

    // A second offer's task is closed by the customer's answer.
    const second = await call('POST', `/v1/customers/${customerId}/offers`, { as: 'carl', body: { kind: 'cross-sell', productId: 'tv-basic' } });
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    const secondTask = await eventually(() => taskRow(`workflow_id = $1`, [`offer-${second.body.offerId}`]));
    expect((await call('POST', `/v1/offers/${second.body.offerId}/response`, { body: { decision: 'decline' } })).status).toBe(200);
    const closed = await eventually(async () => {
      const t = (await call('GET', `/v1/tasks/${secondTask.id}`)).body;
      return t.status !== 'open' ? t : undefined;
    });
    expect(closed).toMatchObject({ status: 'done', outcome: 'the offer was declined', closedBy: 'system' });
  });
});

describe('a change waiting for four-eyes approval is a task of an approver', () => {
  it('the requester’s team lead gets it; the decision completes it, and completing it any other way is refused', async () => {
    const customerId = randomUUID();
    const email = `${uniqueId('change')}@example.com`;
    await h.pool.query(`INSERT INTO customers (id, name, email, email_normalized, created_by) VALUES ($1, 'Nina Name', $2, $2, 'test')`, [customerId, email]);
    // Requested by the harness's agent, whose team (Sales) is led by the backoffice user.
    const requested = await h.json('POST', `/v1/customers/${customerId}/changes`, {
      as: 'agent',
      body: { changes: { name: 'Nina Newname' }, reason: 'married' },
    });
    expect(requested.status, JSON.stringify(requested.body)).toBe(202);
    const changeId = requested.body.changeId;
    const task = await eventually(() => taskRow(`customer_id = $1 AND kind = 'change-approval'`, [customerId]));
    expect(task).toMatchObject({ owner_id: h.users.backoffice.id, status: 'open', process: 'master-data' });
    expect(task.title).toContain(changeId);
    await running(task.id);
    const refused = await h.json('POST', `/v1/tasks/${task.id}/complete`, { as: 'backoffice', body: { outcome: 'looked at it' } });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain(`/v1/changes/{id}/approval`);

    const decided = await h.json('POST', `/v1/changes/${changeId}/approval`, {
      as: 'backoffice',
      body: { decision: 'approve', comment: 'certificate on file' },
    });
    expect(decided.status, JSON.stringify(decided.body)).toBeLessThan(300);
    const done = await eventually(async () => {
      const t = (await h.json('GET', `/v1/tasks/${task.id}`)).body;
      return t.status !== 'open' ? t : undefined;
    });
    expect(done).toMatchObject({ status: 'done', closedBy: h.users.backoffice.id, outcome: `approved by ${h.users.backoffice.id}` });
  });
});

describe('people work their tasks over the API', () => {
  it('lists mine, the team’s, overdue and due today, in keyset pages by due date', async () => {
    const overdue = await seedTask({ owner: users.carl, dueInMs: -60 * 60_000, title: 'Overdue for Carl' });
    const soon = await seedTask({ owner: users.carl, dueInMs: 60_000, title: 'Due in a minute for Carl' });
    const later = await seedTask({ owner: users.carl, dueInMs: 3 * 86_400_000, title: 'Due in three days for Carl' });
    const far = await seedTask({ owner: users.olga, dueInMs: 60_000, title: 'Due in a minute for Olga' });
    const ids = (r: { body: { items: Array<{ id: string }> } }) => r.body.items.map((t) => t.id);

    const mine = await call('GET', '/v1/tasks?view=mine&kind=offer-follow-up', { as: 'carl' });
    expect(mine.status).toBe(200);
    expect(ids(mine)).toEqual([overdue, soon, later]);
    expect(mine.body.items[0]).toMatchObject({ overdue: true, ownerId: users.carl, teamId: team });

    const teamList = await call('GET', '/v1/tasks?view=team&kind=offer-follow-up', { as: 'lena' });
    expect(ids(teamList)).toEqual(expect.arrayContaining([overdue, soon, later]));
    expect(ids(teamList)).not.toContain(far);

    const late = await call('GET', '/v1/tasks?view=overdue&kind=offer-follow-up');
    expect(ids(late)).toContain(overdue);
    expect(ids(late)).not.toContain(soon);

    // Today is the user's day: Carl's in Berlin, Olga's in Auckland; three days out is never today.
    const dueToday = (await call('GET', '/v1/tasks?view=due-today&kind=offer-follow-up', { as: 'olga' })).body.items.map((t: { id: string }) => t.id);
    expect(dueToday).not.toContain(later);
    const { rows } = await h.pool.query(
      `SELECT id FROM tasks WHERE kind = 'offer-follow-up' AND status = 'open'
          AND (due_at AT TIME ZONE 'Pacific/Auckland')::date = (now() AT TIME ZONE 'Pacific/Auckland')::date ORDER BY due_at, id`,
    );
    expect(dueToday).toEqual(rows.map((r) => r.id));

    // Keyset pages: two and then the rest, no repeats, none skipped.
    const first = await call('GET', '/v1/tasks?view=mine&kind=offer-follow-up&pageSize=2', { as: 'carl' });
    expect(ids(first)).toEqual([overdue, soon]);
    const second = await call('GET', `/v1/tasks?view=mine&kind=offer-follow-up&pageSize=2&pageToken=${first.body.nextPageToken}`, { as: 'carl' });
    expect(ids(second)).toEqual([later]);
    expect(second.body.nextPageToken).toBeUndefined();
    // A token is bound to its listing.
    const foreign = await call('GET', `/v1/tasks?view=team&pageToken=${first.body.nextPageToken}`, { as: 'carl' });
    expect(foreign.status).toBe(400);
  });

  it('snoozes a task out of the overdue list and reassigns it to an active user', async () => {
    const id = await seedTask({ owner: users.carl, dueInMs: -30 * 60_000, title: 'Snooze me' });
    const until = new Date(Date.now() + 2 * 60 * 60_000).toISOString();
    const snoozed = await call('POST', `/v1/tasks/${id}/snooze`, { as: 'carl', body: { until } });
    expect(snoozed.status, JSON.stringify(snoozed.body)).toBe(200);
    expect(snoozed.body).toMatchObject({ status: 'open', overdue: false, snoozedUntil: until });
    expect(snoozed.body.timeline.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'snoozed']);
    expect((await call('GET', '/v1/tasks?view=overdue&kind=offer-follow-up')).body.items.map((t: { id: string }) => t.id)).not.toContain(id);
    expect((await call('GET', '/v1/tasks?status=snoozed')).body.items.map((t: { id: string }) => t.id)).toContain(id);

    const moved = await call('POST', `/v1/tasks/${id}/reassign`, { as: 'lena', body: { ownerId: users.anna, reason: 'Carl is on holiday' } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.ownerId).toBe(users.anna);
    expect(moved.body.timeline.at(-1)).toMatchObject({
      kind: 'reassigned',
      fromOwner: users.carl,
      toOwner: users.anna,
      actor: users.lena,
      reason: 'Carl is on holiday',
    });
    await eventually(async () => (await h.mailbox('anna@example.com')).find((m) => m.template === 'task-assigned' && m.payload.taskId === id));
    const audit = await h.pool.query(`SELECT old_value, new_value, actor FROM audit_log WHERE workflow_id = $1 AND field = 'task.owner'`, [taskWorkflowId(id)]);
    expect(audit.rows).toEqual([{ old_value: users.carl, new_value: users.anna, actor: users.lena }]);
  });

  it('refuses what it cannot do with a 4xx that says why', async () => {
    const id = await seedTask({ owner: users.carl, dueInMs: 60 * 60_000, title: 'Refusals' });
    const unknown = randomUUID();

    expect((await call('GET', `/v1/tasks/${unknown}`)).status).toBe(404);
    expect((await call('POST', `/v1/tasks/${unknown}/complete`, { body: { outcome: 'done' } })).status).toBe(404);
    expect((await call('POST', `/v1/tasks/${unknown}/snooze`, { body: { until: new Date(Date.now() + 60_000).toISOString() } })).status).toBe(404);
    expect((await call('POST', `/v1/tasks/${unknown}/reassign`, { body: { ownerId: users.anna } })).status).toBe(404);

    const badId = await call('GET', '/v1/tasks/not-a-uuid');
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].path).toBe('path.id');
    const badView = await call('GET', '/v1/tasks?view=someone');
    expect(badView.status).toBe(400);
    expect(badView.body.errors[0].path).toBe('query.view');
    const noOutcome = await call('POST', `/v1/tasks/${id}/complete`, { body: { outcome: '  ' } });
    expect(noOutcome.status).toBe(400);
    expect(noOutcome.body.errors[0].path).toBe('body.outcome');
    const pastSnooze = await call('POST', `/v1/tasks/${id}/snooze`, { body: { until: '2020-01-01T00:00:00Z' } });
    expect(pastSnooze.status).toBe(400);
    expect(pastSnooze.body.errors[0].path).toBe('body.until');
    const notADate = await call('POST', `/v1/tasks/${id}/snooze`, { body: { until: 'tomorrow' } });
    expect(notADate.status).toBe(400);
    const extra = await call('POST', `/v1/tasks/${id}/reassign`, { body: { ownerId: users.anna, owner: 'x' } });
    expect(extra.status).toBe(400);
    const teamWithoutTeam = await call('GET', '/v1/tasks?view=team', { key: teamless });
    expect(teamWithoutTeam.status).toBe(400);
    expect(teamWithoutTeam.body.errors[0].path).toBe('query.view');

    const nobody = await call('POST', `/v1/tasks/${id}/reassign`, { body: { ownerId: unknown } });
    expect(nobody.status).toBe(400);
    expect(nobody.body.errors[0].path).toBe('body.ownerId');
    const inactive = await call('POST', `/v1/tasks/${id}/reassign`, { body: { ownerId: users.ina } });
    expect(inactive.status).toBe(409);
    expect(inactive.body.detail).toContain('not active');
    expect((await call('POST', `/v1/tasks/${id}/reassign`, { body: { ownerId: users.carl } })).status).toBe(409);

    expect((await call('POST', `/v1/tasks/${id}/complete`, { as: 'carl', body: { outcome: 'sent the quote' } })).status).toBe(200);
    const twice = await call('POST', `/v1/tasks/${id}/complete`, { as: 'carl', body: { outcome: 'again' } });
    expect(twice.status).toBe(409);
    expect(twice.body.detail).toContain('done');
    expect((await call('POST', `/v1/tasks/${id}/snooze`, { body: { until: new Date(Date.now() + 60_000).toISOString() } })).status).toBe(409);
    expect((await call('POST', `/v1/tasks/${id}/reassign`, { body: { ownerId: users.anna } })).status).toBe(409);
    const task = (await call('GET', `/v1/tasks/${id}`)).body;
    expect(task.timeline.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'completed']);
  });
});
