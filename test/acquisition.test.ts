import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { CrmCustomerId, CrmOwner, CrmProcess, CrmSource, CrmStatus, CrmTeam } from '../src/domain/search-attributes.js';
import { leadStateQuery, type LeadFunnelResult } from '../src/domain/acquisition.js';
import { createApi } from '../src/api/app.js';
import { devKeyEntries } from '../src/dev/dev-keys.js';
import { createLogger } from '../src/logger.js';

const keys = () => devKeyEntries(h.keys);

let h: Harness;
beforeAll(async () => {
  h = await startHarness('acquisition');
});
afterAll(async () => {
  await h?.close();
});

const email = () => `${uniqueId('jane')}@Example.COM`;
const lead = (overrides: Record<string, unknown> = {}) => ({
  name: 'Jane Doe',
  email: email(),
  phone: '+49 30 1234567',
  company: 'ACME',
  companySize: '51-200',
  source: 'web',
  interest: 'CRM for 40 seats',
  ...overrides,
});
const QUALIFY = { to: 'qualified', need: 'replace spreadsheets', budget: 20000, timeline: 'Q3' };
const PROPOSE = { to: 'proposal', product: 'CRM Team', amount: 18000, currency: 'EUR' };

async function intake(body: Record<string, unknown> = lead()): Promise<string> {
  const res = await h.json('POST', '/v1/leads', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.leadId;
}

const move = (id: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  h.json('POST', `/v1/leads/${id}/transitions`, { body, headers });

async function moveOk(id: string, body: Record<string, unknown>) {
  const res = await move(id, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
  return Number(rows[0]!.n);
}

const historyLength = async (id: string) => (await h.client.workflow.getHandle(`lead-${id}`).describe()).historyLength;

describe('lead intake', () => {
  it('takes in a lead: scores it with reasons, assigns an owner, and makes it findable in Temporal', async () => {
    const body = lead({ name: 'Ada Lovelace', company: 'Analytical Engines', source: 'referral', companySize: '201-1000' });
    const res = await h.json('POST', '/v1/leads', { body });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/leads/${res.body.leadId}`);
    expect(res.body).toMatchObject({ status: 'accepted', workflowId: `lead-${res.body.leadId}`, stage: 'new', score: 80 });
    expect([h.users.agent.id, h.users.agent2.id]).toContain(res.body.owner);

    const got = await h.json('GET', `/v1/leads/${res.body.leadId}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ stage: 'new', owner: res.body.owner, closed: false, nextDue: { kind: 'contact-reminder' } });
    expect(got.body.score.reasons).toEqual([
      { rule: 'source', points: 30, detail: 'came via referral' },
      { rule: 'company-size', points: 25, detail: 'company has 201-1000 employees' },
      { rule: 'company', points: 5, detail: 'buys for a company (Analytical Engines)' },
      { rule: 'interest', points: 15, detail: 'stated an interest: CRM for 40 seats' },
      { rule: 'phone', points: 5, detail: 'reachable by phone' },
    ]);
    expect(got.body.score.grade).toBe('A');
    expect(Date.parse(got.body.nextDue.at) - Date.parse(got.body.transitions[0].at)).toBe(2 * 86_400_000);

    const row = await h.pool.query('SELECT stage, owner_id, score, score_reasons, source FROM leads WHERE id = $1', [res.body.leadId]);
    expect(row.rows[0]).toMatchObject({ stage: 'new', owner_id: res.body.owner, score: 80, source: 'referral' });

    const description = await h.client.workflow.getHandle(`lead-${res.body.leadId}`).describe();
    expect(description.type).toBe('leadFunnel');
    // The summary names no person (it is not sealed with the lead's key): id and source only.
    expect(await description.staticSummary()).toMatch(/^Lead [0-9a-f-]{36}, via referral$/);
    expect(description.typedSearchAttributes.get(CrmProcess)).toBe('acquisition');
    expect(description.typedSearchAttributes.get(CrmStatus)).toBe('new');
    expect(description.typedSearchAttributes.get(CrmSource)).toBe('referral');
    expect(description.typedSearchAttributes.get(CrmOwner)).toBe(res.body.owner);
    // What the Temporal UI shows as current details: stage, owner, score and the next deadline.
    const metadata = await h.client.workflow.getHandle(`lead-${res.body.leadId}`).query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('**Stage:** new');
    expect(metadata.currentDetails).toContain(`**Owner:** ${res.body.owner}`);
    expect(metadata.currentDetails).toContain(`**Next:** contact-reminder at ${got.body.nextDue.at}`);
  });

  it('assigns owners round-robin among the active agents of the team, skipping deactivated ones, unless one is given', async () => {
    const owners: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.json('POST', '/v1/leads', { body: lead() });
      owners.push(res.body.owner);
    }
    expect(owners[0]).not.toBe(owners[1]);
    expect(owners[2]).toBe(owners[0]);
    expect(new Set(owners)).toEqual(new Set([h.users.agent.id, h.users.agent2.id]));
    // The lead carries its team in Temporal (CrmTeam) and its owner as a user id (CrmOwner).
    const first = (await h.json('GET', '/v1/leads?sort=-created&pageSize=1')).body.items[0];
    await eventually(async () => {
      const attributes = (await h.client.workflow.getHandle(first.workflowId).describe()).typedSearchAttributes;
      return attributes.get(CrmTeam) === h.teamId && attributes.get(CrmOwner) === first.owner;
    });

    const carla = await h.createUser({ name: 'Carla Sales' });
    const given = await h.json('POST', '/v1/leads', { body: lead({ ownerId: carla.user.id }) });
    expect(given.body.owner).toBe(carla.user.id);

    // A team of its own: one agent active, one deactivated; every lead goes to the active one.
    const team = (await h.json('POST', '/v1/teams', { as: 'admin', body: { name: uniqueId('North') } })).body;
    const active = await h.createUser({ teamId: team.id });
    const gone = await h.createUser({ teamId: team.id });
    expect((await h.json('POST', `/v1/users/${gone.user.id}/deactivation`, { as: 'admin' })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await h.json('POST', '/v1/leads', { body: lead({ teamId: team.id }) });
      expect(res.body.owner).toBe(active.user.id);
    }
    // An owner must be an active user; a team must exist.
    const inactive = await h.json('POST', '/v1/leads', { body: lead({ ownerId: gone.user.id }) });
    expect(inactive.status).toBe(409);
    expect(inactive.body.detail).toMatch(/deactivated/);
    const unknown = await h.json('POST', '/v1/leads', { body: lead({ ownerId: '00000000-0000-4000-8000-000000000000' }) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].path).toBe('body.ownerId');
    const noTeam = await h.json('POST', '/v1/leads', { body: lead({ teamId: '00000000-0000-4000-8000-000000000000' }) });
    expect(noTeam.status).toBe(400);
    expect(noTeam.body.errors[0].path).toBe('body.teamId');
  });

  it('does not funnel an open lead or a customer twice: the answer points to the existing one', async () => {
    const body = lead();
    const first = await intake(body);
    const again = await h.json('POST', '/v1/leads', {
      body: { ...lead({ name: 'Jane D.', source: 'event' }), email: body.email.toUpperCase() },
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'existing-lead', leadId: first, workflowId: `lead-${first}` });
    expect(again.headers.get('location')).toBe(`/v1/leads/${first}`);
    expect(await count('leads', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);

    const customer = await h.json('POST', '/v1/customers', { body: { name: 'Known Customer', email: email() } });
    expect(customer.status).toBe(201);
    const known = await h.json('POST', '/v1/leads', { body: lead({ email: customer.body.email }) });
    expect(known.status).toBe(200);
    expect(known.body).toMatchObject({ status: 'existing-customer', customerId: customer.body.id });
    expect(known.headers.get('location')).toBe(`/v1/customers/${customer.body.id}`);
  });

  it('makes exactly one lead of concurrent intakes of the same e-mail', async () => {
    const body = lead();
    const answers = await Promise.all([0, 1, 2].map((i) => h.json('POST', '/v1/leads', { body: { ...body, name: `Twin ${i}` } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 202]);
    const winner = answers.find((a) => a.status === 202)!.body.leadId;
    expect(answers.filter((a) => a.status === 200).every((a) => a.body.leadId === winner)).toBe(true);
    expect(await count('leads', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
  });

  it('returns the first result for a repeated Idempotency-Key and refuses the key for another body', async () => {
    const key = uniqueId('lead');
    const body = lead();
    const first = await h.json('POST', '/v1/leads', { body, headers: { 'idempotency-key': key } });
    const repeat = await h.json('POST', '/v1/leads', { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    expect(repeat.status).toBe(202);
    expect(repeat.body).toEqual(first.body);
    expect(await count('leads', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
    const other = await h.json('POST', '/v1/leads', { body: lead(), headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
  });
});

describe('the funnel from lead to customer', () => {
  it('drives a lead to won: one customer, linked, welcomed and onboarded, with the full stage history', async () => {
    const body = lead({ name: 'Grace Hopper', company: 'Navy' });
    const id = await intake(body);
    await moveOk(id, { to: 'contacted', note: 'first call' });
    expect(
      (
        await h.json('POST', `/v1/leads/${id}/interactions`, {
          body: { channel: 'meeting', direction: 'outbound', summary: 'Discovery meeting' },
        })
      ).status,
    ).toBe(201);
    const qualified = await moveOk(id, { ...QUALIFY, from: 'contacted' });
    expect(qualified).toMatchObject({
      stage: 'qualified',
      qualification: { need: 'replace spreadsheets', budget: 20000, currency: 'EUR', timeline: 'Q3' },
      nextDue: { kind: 'idle-to-nurture' },
    });
    await moveOk(id, PROPOSE);
    const won = await move(id, { to: 'won' }, { 'idempotency-key': uniqueId('won') });
    expect(won.status).toBe(200);
    expect(won.body).toMatchObject({ stage: 'won', proposal: { product: 'CRM Team', amount: 18000, currency: 'EUR' } });
    const customerId = won.body.customerId;
    expect(customerId).toBeTruthy();

    const result: LeadFunnelResult = await h.client.workflow.getHandle(`lead-${id}`).result();
    expect(result).toMatchObject({ outcome: 'won', leadId: id, customerId });
    expect(result.stageHistory.map((t) => `${t.from}→${t.to}`)).toEqual([
      'null→new',
      'new→contacted',
      'contacted→qualified',
      'qualified→proposal',
      'proposal→won',
    ]);
    expect(result.stageHistory.slice(1).every((t) => t.actor === h.users.agent.id && t.at)).toBe(true);

    const customer = await h.json('GET', `/v1/customers/${customerId}`);
    expect(customer.body).toMatchObject({ name: 'Grace Hopper', email: body.email, phone: '+49301234567', status: 'active' });
    expect(await count('customers', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
    const row = await h.pool.query('SELECT stage, customer_id, closed_at FROM leads WHERE id = $1', [id]);
    expect(row.rows[0]).toMatchObject({ stage: 'won', customer_id: customerId });
    expect(row.rows[0].closed_at).not.toBeNull();

    // The sales conversations are part of the customer's history now, and so is what follows.
    expect(
      (
        await h.json('POST', `/v1/leads/${id}/interactions`, {
          body: { channel: 'email', direction: 'inbound', summary: 'Thanks for the contract' },
        })
      ).status,
    ).toBe(201);
    const history = await h.json('GET', `/v1/customers/${customerId}/interactions`);
    expect(history.body.items.map((i: { summary: string }) => i.summary)).toEqual(['Thanks for the contract', 'Discovery meeting']);

    const welcome = await eventually(async () => (await h.mailbox(body.email)).find((m) => m.template === 'welcome'));
    expect(welcome.text).toContain('Grace Hopper');

    // Onboarding is a child of the funnel that outlives it: the lead's owner is the account manager.
    const onboarding = await eventually(async () => {
      const res = await h.json('GET', `/v1/customers/${customerId}/onboarding`);
      return res.status === 200 && res.body.status === 'in-progress' ? res.body : undefined;
    });
    expect(onboarding).toMatchObject({ origin: 'lead', leadId: id, accountManager: qualified.owner, optIn: { status: 'pending' } });

    // The closed funnel still answers, and Temporal shows where it ended.
    const after = await h.json('GET', `/v1/leads/${id}`);
    expect(after.body).toMatchObject({ stage: 'won', customerId, closed: true });
    const description = await h.client.workflow.getHandle(`lead-${id}`).describe();
    expect(description.typedSearchAttributes.get(CrmStatus)).toBe('won');
    expect(description.typedSearchAttributes.get(CrmCustomerId)).toBe(customerId);
  });

  it('ends a lost lead with its reason, after which the person may come back as a new lead', async () => {
    const body = lead();
    const id = await intake(body);
    await moveOk(id, { to: 'contacted' });
    const lost = await moveOk(id, { to: 'lost', reason: 'chose a competitor' });
    expect(lost).toMatchObject({ stage: 'lost', lostReason: 'chose a competitor' });
    const result: LeadFunnelResult = await h.client.workflow.getHandle(`lead-${id}`).result();
    expect(result).toMatchObject({ outcome: 'lost', reason: 'chose a competitor' });
    expect(result.stageHistory.at(-1)).toMatchObject({ from: 'contacted', to: 'lost', reason: 'chose a competitor', actor: h.users.agent.id });
    const row = await h.pool.query('SELECT stage, lost_reason FROM leads WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ stage: 'lost', lost_reason: 'chose a competitor' });
    expect(await count('customers', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(0);

    const again = await h.json('POST', '/v1/leads', { body });
    expect(again.status).toBe(202);
    expect(again.body.leadId).not.toBe(id);
  });

  it('refuses every invalid transition with 409 and the reason, leaving history untouched', async () => {
    const at = {
      new: await intake(),
      contacted: await intake(),
      qualified: await intake(),
      proposal: await intake(),
      nurture: await intake(),
    };
    await moveOk(at.contacted, { to: 'contacted' });
    for (const id of [at.qualified, at.proposal]) {
      await moveOk(id, { to: 'contacted' });
      await moveOk(id, QUALIFY);
    }
    await moveOk(at.proposal, PROPOSE);
    await moveOk(at.nurture, { to: 'nurture', reason: 'budget next year' });
    const won = await intake();
    for (const step of [{ to: 'contacted' }, QUALIFY, PROPOSE, { to: 'won' }]) await moveOk(won, step);
    const lost = await intake();
    await moveOk(lost, { to: 'lost', reason: 'no budget' });

    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      [at.new, QUALIFY, /cannot move from new to qualified/],
      [at.new, PROPOSE, /cannot move from new to proposal/],
      [at.new, { to: 'won' }, /cannot move from new to won; from new it can move to contacted, nurture, lost/],
      [at.new, { to: 'new' }, /already new/],
      [at.contacted, { to: 'proposal', product: 'x', amount: 1 }, /cannot move from contacted to proposal/],
      [at.contacted, { to: 'won' }, /cannot move from contacted to won/],
      [at.contacted, { to: 'qualified', need: 'x' }, /needs need, budget, timeline; missing: budget, timeline/],
      [at.qualified, { to: 'proposal', product: 'x' }, /missing: amount/],
      [at.qualified, { to: 'won' }, /cannot move from qualified to won/],
      [at.qualified, { to: 'contacted' }, /cannot move from qualified to contacted/],
      [at.proposal, { to: 'lost' }, /missing: reason/],
      [at.proposal, { to: 'new' }, /cannot move from proposal to new/],
      [at.nurture, { to: 'new' }, /cannot move from nurture to new/],
      [at.nurture, { to: 'won' }, /cannot move from nurture to won/],
      [at.contacted, { to: 'lost', reason: 'x', from: 'new' }, /is contacted, not new/],
      [won, { to: 'lost', reason: 'changed mind' }, /already won/],
      [lost, { to: 'contacted' }, /already lost/],
    ];
    for (const [id, body, reason] of cases) {
      const before = await historyLength(id);
      const res = await move(id, body);
      expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(409);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.detail).toMatch(reason);
      expect(await historyLength(id)).toBe(before);
    }
    const states = await Promise.all(Object.entries(at).map(async ([stage, id]) => [stage, (await h.json('GET', `/v1/leads/${id}`)).body.stage]));
    expect(states.every(([expected, actual]) => expected === actual)).toBe(true);
  });

  it('lets exactly one of two racing transitions win; the other gets 409', async () => {
    const id = await intake();
    const same = await Promise.all([move(id, { to: 'contacted' }), move(id, { to: 'contacted' })]);
    expect(same.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(same.find((r) => r.status === 409)!.body.detail).toMatch(/already contacted/);

    const rival = await Promise.all([move(id, { ...QUALIFY, from: 'contacted' }), move(id, { to: 'lost', reason: 'no need', from: 'contacted' })]);
    expect(rival.map((r) => r.status).sort()).toEqual([200, 409]);
    const state = await h.json('GET', `/v1/leads/${id}`);
    expect(state.body.transitions).toHaveLength(3);
    expect(state.body.stage).toBe(rival.find((r) => r.status === 200)!.body.stage);
  });

  it('hands a lead to another owner: the state, Temporal and the record follow; a closed lead keeps its owner', async () => {
    const [first, second, third] = [await h.createUser(), await h.createUser(), await h.createUser()];
    const id = await intake(lead({ ownerId: first.user.id }));
    const res = await h.json('POST', `/v1/leads/${id}/owner`, {
      as: 'backoffice',
      body: { ownerId: second.user.id, reason: 'territory change' },
    });
    expect(res.status).toBe(200);
    expect(res.body.owner).toBe(second.user.id);
    expect(res.body.reassignments).toEqual([
      expect.objectContaining({
        from: first.user.id,
        to: second.user.id,
        actor: h.users.backoffice.id,
        reason: 'territory change',
      }),
    ]);
    await eventually(async () => (await h.client.workflow.getHandle(`lead-${id}`).describe()).typedSearchAttributes.get(CrmOwner) === second.user.id);
    await eventually(async () => (await h.pool.query('SELECT owner_id FROM leads WHERE id = $1', [id])).rows[0].owner_id === second.user.id);

    const same = await h.json('POST', `/v1/leads/${id}/owner`, { body: { ownerId: second.user.id } });
    expect(same.status).toBe(409);
    expect(same.body.detail).toMatch(/already owned by/);
    const bad = await h.json('POST', `/v1/leads/${id}/owner`, { body: { ownerId: 'nobody' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('body.ownerId');
    const nobody = await h.json('POST', `/v1/leads/${id}/owner`, { body: { ownerId: '00000000-0000-4000-8000-000000000000' } });
    expect(nobody.status).toBe(400);
    expect(nobody.body.detail).toMatch(/no user/);
    await h.json('POST', `/v1/users/${third.user.id}/deactivation`, { as: 'admin' });
    const inactive = await h.json('POST', `/v1/leads/${id}/owner`, { body: { ownerId: third.user.id } });
    expect(inactive.status).toBe(409);
    expect(inactive.body.detail).toMatch(/deactivated/);
    expect((await h.json('GET', `/v1/leads/${id}`)).body.owner).toBe(second.user.id);
    await moveOk(id, { to: 'lost', reason: 'gone quiet' });
    await h.client.workflow.getHandle(`lead-${id}`).result();
    const closed = await h.json('POST', `/v1/leads/${id}/owner`, { body: { ownerId: first.user.id } });
    expect(closed.status).toBe(409);
    expect(closed.body.detail).toMatch(/already lost/);
    const unknown = await h.json('POST', '/v1/leads/00000000-0000-4000-8000-000000000000/owner', {
      body: { ownerId: first.user.id },
    });
    expect(unknown.status).toBe(404);
  });

  it('a repeated transition with the same Idempotency-Key returns the first result and moves once', async () => {
    const id = await intake();
    const key = uniqueId('move');
    const first = await move(id, { to: 'contacted' }, { 'idempotency-key': key });
    const repeat = await move(id, { to: 'contacted' }, { 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(repeat.status).toBe(200);
    expect(repeat.body.transitions).toHaveLength(2);
  });

  it('survives a worker stopped mid-funnel: a new worker finishes it', async () => {
    const body = lead();
    const id = await intake(body);
    await moveOk(id, { to: 'contacted' });
    await h.stopWorker();
    try {
      // Accepted by Temporal while no worker runs: an API that waits only briefly answers 202
      // and the move completes once a new worker replays the funnel.
      const impatient = createApi({
        pool: h.pool,
        temporal: h.client,
        taskQueue: h.taskQueue,
        pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
        logger: createLogger('silent'),
        keys: keys(),
        resultWaitMs: 300,
      });
      const accepted = await impatient.request(`/v1/leads/${id}/transitions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.agent}`, 'content-type': 'application/json' },
        body: JSON.stringify(QUALIFY),
      });
      expect(accepted.status).toBe(202);
      expect(accepted.headers.get('location')).toBe(`/v1/leads/${id}`);
      expect(await accepted.json()).toMatchObject({ status: 'pending', leadId: id });
    } finally {
      await h.startWorker();
    }
    const state = await eventually(async () => {
      const s = (await h.json('GET', `/v1/leads/${id}`)).body;
      return s.stage === 'qualified' ? s : undefined;
    });
    expect(state.transitions.map((t: { to: string }) => t.to)).toEqual(['new', 'contacted', 'qualified']);
    await moveOk(id, PROPOSE);
    const won = await moveOk(id, { to: 'won' });
    expect(won.customerId).toBeTruthy();
    expect(await count('customers', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
  });

  it('a funnel continued as new carries its state: stage, history, score and timers, without a second intake', async () => {
    const body = lead();
    const id = await intake(body);
    await moveOk(id, { to: 'contacted' });
    const before = (await h.json('GET', `/v1/leads/${id}`)).body;
    const handle = h.client.workflow.getHandle(`lead-${id}`);
    const state = await handle.query(leadStateQuery);
    await handle.terminate('stand-in for continue-as-new in this test');
    const policy = {
      contactSlaMs: 2 * 86_400_000,
      idleToNurtureMs: 30 * 86_400_000,
      nurtureReactivationMs: 90 * 86_400_000,
      escalationEmail: 'sales.backoffice@example.com',
    };
    await h.client.workflow.start('leadFunnel', {
      taskQueue: h.taskQueue,
      workflowId: `lead-${id}`,
      args: [{ leadId: id, intake: { ...body, locale: 'en' }, actor: h.users.agent.id, carried: { state, policy } }],
    });

    const resumed = await eventually(async () => {
      const res = await h.json('GET', `/v1/leads/${id}?live=true`);
      return res.body.live ? res.body : undefined;
    });
    expect(resumed).toMatchObject({
      stage: 'contacted',
      owner: before.owner,
      score: before.score,
      transitions: before.transitions,
      nextDue: before.nextDue,
    });
    expect(resumed.live.state).toMatchObject({
      stage: 'contacted',
      owner: before.owner,
      transitions: state.transitions,
      nextDue: before.nextDue,
    });
    await moveOk(id, QUALIFY);
    expect(await count('leads', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
    // The record follows the new run: it was written before the move was answered.
    expect((await h.pool.query('SELECT stage FROM leads WHERE id = $1', [id])).rows[0].stage).toBe('qualified');
  });

  it('a conversion that fails after its insert is retried and still makes exactly one customer', async () => {
    const body = lead();
    const id = await intake(body);
    for (const step of [{ to: 'contacted' }, QUALIFY, PROPOSE]) await moveOk(id, step);

    // A fault after the customer is committed: linking the lead fails once (a sequence is not
    // rolled back, so it counts the attempts across the failed transaction).
    await h.pool.query(`
      CREATE SEQUENCE conversion_link_attempts;
      CREATE FUNCTION fail_first_link() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('conversion_link_attempts') = 1 THEN RAISE EXCEPTION 'connection reset after commit'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_first_link BEFORE UPDATE OF customer_id ON leads
        FOR EACH ROW WHEN (OLD.customer_id IS NULL AND NEW.customer_id IS NOT NULL AND NEW.id = '${id}') EXECUTE FUNCTION fail_first_link();
    `);
    try {
      const won = await moveOk(id, { to: 'won' });
      const attempts = await h.pool.query(`SELECT last_value FROM conversion_link_attempts`);
      expect(Number(attempts.rows[0].last_value)).toBe(2);
      expect(await count('customers', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
      expect(await count('notification_outbox', `customer_id = $1 AND template = 'welcome'`, [won.customerId])).toBe(1);
      expect(await count('audit_log', `customer_id = $1 AND field = 'email'`, [won.customerId])).toBe(1);
      const row = await h.pool.query('SELECT customer_id FROM leads WHERE id = $1', [id]);
      expect(row.rows[0].customer_id).toBe(won.customerId);
      const result: LeadFunnelResult = await h.client.workflow.getHandle(`lead-${id}`).result();
      expect(result.customerId).toBe(won.customerId);
    } finally {
      await h.pool.query('DROP TRIGGER fail_first_link ON leads; DROP FUNCTION fail_first_link(); DROP SEQUENCE conversion_link_attempts');
    }
  });
});

describe('contact management', () => {
  it('an interaction with a new lead counts as contact: the lead becomes contacted and the history lists it', async () => {
    const id = await intake();
    const call = await h.json('POST', `/v1/leads/${id}/interactions`, {
      body: { channel: 'call', direction: 'outbound', summary: 'Introduced ourselves' },
    });
    expect(call.status).toBe(201);
    expect(call.body).toMatchObject({
      leadId: id,
      channel: 'call',
      direction: 'outbound',
      kind: 'interaction',
      summary: 'Introduced ourselves',
      recordedBy: h.users.agent.id,
    });

    const state = await eventually(async () => {
      const res = await h.json('GET', `/v1/leads/${id}`);
      return res.body.stage === 'contacted' ? res.body : undefined;
    });
    expect(state.transitions.at(-1)).toMatchObject({
      from: 'new',
      to: 'contacted',
      actor: h.users.agent.id,
      reason: 'outbound call recorded',
    });
    expect(state.interactions).toBe(1);
    expect(state.nextDue.kind).toBe('idle-to-nurture');

    // An internal note is recorded but is no contact.
    const other = await intake();
    await h.json('POST', `/v1/leads/${other}/interactions`, {
      body: { channel: 'note', direction: 'internal', summary: 'Looked them up' },
    });
    const untouched = await eventually(async () => {
      const res = await h.json('GET', `/v1/leads/${other}`);
      return res.body.interactions === 1 ? res.body : undefined;
    });
    expect(untouched.stage).toBe('new');
  });

  it('records interactions once per Idempotency-Key and lists a history newest first, page by page', async () => {
    const customer = await h.json('POST', '/v1/customers', { body: { name: 'Paged Customer', email: email() } });
    const id = customer.body.id;
    const key = uniqueId('ia');
    const first = await h.json('POST', `/v1/customers/${id}/interactions`, {
      body: { channel: 'email', direction: 'inbound', summary: 'Question about invoices', occurredAt: '2026-01-01T10:00:00Z' },
      headers: { 'idempotency-key': key },
    });
    const repeat = await h.json('POST', `/v1/customers/${id}/interactions`, {
      body: { channel: 'email', direction: 'inbound', summary: 'Question about invoices', occurredAt: '2026-01-01T10:00:00Z' },
      headers: { 'idempotency-key': key },
    });
    expect(first.status).toBe(201);
    expect(repeat.body.id).toBe(first.body.id);
    for (const [i, day] of ['02', '03', '04', '05'].entries()) {
      const res = await h.json('POST', `/v1/customers/${id}/interactions`, {
        body: { channel: 'call', direction: 'outbound', summary: `Call ${i + 1}`, occurredAt: `2026-01-${day}T10:00:00Z` },
      });
      expect(res.status).toBe(201);
    }
    expect(await count('contact_events', 'customer_id = $1', [id])).toBe(5);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.json('GET', `/v1/customers/${id}/interactions?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((i: { summary: string }) => i.summary));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['Call 4', 'Call 3', 'Call 2', 'Call 1', 'Question about invoices']);

    const leadId = await intake();
    await h.json('POST', `/v1/leads/${leadId}/interactions`, { body: { channel: 'meeting', direction: 'outbound', summary: 'Demo' } });
    const leadHistory = await h.json('GET', `/v1/leads/${leadId}/interactions`);
    expect(leadHistory.body.items.map((i: { summary: string }) => i.summary)).toEqual(['Demo']);
    expect(leadHistory.body.nextCursor).toBeUndefined();
  });
});

describe('listing leads from the record', () => {
  it('filters by stage, owner and source, page by page', async () => {
    const owner = (await h.createUser()).user.id;
    const a = await intake(lead({ ownerId: owner, source: 'event' }));
    const b = await intake(lead({ ownerId: owner, source: 'event' }));
    const c = await intake(lead({ ownerId: owner, source: 'partner' }));
    await moveOk(b, { to: 'contacted' });

    const list = (q: string) => h.json('GET', `/v1/leads?owner=${encodeURIComponent(owner)}&${q}`);
    const contacted = (await list('stage=contacted')).body;
    expect(contacted.items).toHaveLength(1);
    expect(contacted.items[0]).toMatchObject({
      leadId: b,
      workflowId: `lead-${b}`,
      stage: 'contacted',
      owner,
      source: 'event',
      name: 'Jane Doe',
      company: 'ACME',
      closedAt: null,
    });

    const events = (await list('source=event')).body;
    expect(events.items.map((i: { leadId: string }) => i.leadId).sort()).toEqual([a, b].sort());

    expect((await list('')).body.items.map((i: { leadId: string }) => i.leadId)).toEqual([c, b, a]);
    const first = await list('pageSize=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextPageToken).toBeTruthy();
    const second = await list(`pageSize=2&pageToken=${first.body.nextPageToken}`);
    const all = [...first.body.items, ...second.body.items].map((i: { leadId: string }) => i.leadId);
    expect(all.sort()).toEqual([a, b, c].sort());
    // A token belongs to the listing that made it.
    const foreign = await list(`pageSize=2&source=partner&pageToken=${first.body.nextPageToken}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors[0].path).toBe('query.pageToken');
  });
});

describe('bad input on every endpoint is a 4xx problem that stores nothing', () => {
  it('names every wrong field of an intake', async () => {
    const before = await count('leads');
    const res = await h.json('POST', '/v1/leads', {
      body: { name: '', email: 'nope', phone: '123', companySize: 'huge', source: 'tv', ownerId: 'bob', extra: true },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.email', 'body.phone', 'body.companySize', 'body.source', 'body.ownerId']));
    const missing = await h.json('POST', '/v1/leads', { body: { name: 'No Source', email: email() } });
    expect(missing.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.source']);
    expect(await count('leads')).toBe(before);
  });

  it('rejects malformed transitions, interactions, listings and ids', async () => {
    const id = await intake();
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', `/v1/leads/${id}/transitions`, { to: 'won-ish' }, 400, 'body.to'],
      ['POST', `/v1/leads/${id}/transitions`, { to: 'qualified', need: 'x', budget: -5, timeline: 'Q1' }, 400, 'body.budget'],
      ['POST', `/v1/leads/${id}/transitions`, { to: 'contacted', budget: 5 }, 400, 'body.budget'],
      ['POST', `/v1/leads/${id}/transitions`, { to: 'proposal', product: 'x', amount: 5, currency: 'euro' }, 400, 'body.currency'],
      ['POST', `/v1/leads/${id}/transitions`, { to: 'lost', reason: '   ' }, 400, 'body.reason'],
      ['POST', `/v1/leads/${id}/interactions`, { channel: 'fax', direction: 'outbound', summary: 'x' }, 400, 'body.channel'],
      ['POST', `/v1/leads/${id}/interactions`, { channel: 'note', direction: 'outbound', summary: 'x' }, 400, 'body.direction'],
      ['POST', `/v1/leads/${id}/interactions`, { channel: 'call', direction: 'inbound', summary: '' }, 400, 'body.summary'],
      ['POST', `/v1/leads/${id}/interactions`, { channel: 'call', direction: 'inbound', summary: 'x', occurredAt: 'yesterday' }, 400, 'body.occurredAt'],
      [
        'POST',
        `/v1/leads/${id}/interactions`,
        { channel: 'call', direction: 'inbound', summary: 'x', occurredAt: '2999-01-01T00:00:00Z' },
        400,
        'body.occurredAt',
      ],
      ['GET', `/v1/leads/${id}/interactions?limit=0`, undefined, 400, 'query.limit'],
      ['GET', `/v1/leads/${id}/interactions?cursor=bm9wZQ`, undefined, 400, 'query.cursor'],
      ['GET', '/v1/leads?stage=maybe', undefined, 400, 'query.stage'],
      ['GET', '/v1/leads?pageSize=1000', undefined, 400, 'query.pageSize'],
      ['GET', "/v1/leads?owner=x' OR '1'='1", undefined, 400, 'query.owner'],
      ['GET', '/v1/leads?pageToken=bm9wZQ', undefined, 400, 'query.pageToken'],
      ['GET', '/v1/leads?pageToken=not/a/token', undefined, 400, 'query.pageToken'],
      ['GET', '/v1/leads?colour=red', undefined, 400, 'query'],
      ['GET', '/v1/leads/42', undefined, 400, 'path.id'],
      ['GET', '/v1/leads/42/interactions', undefined, 400, 'path.id'],
      ['POST', '/v1/customers/42/interactions', { channel: 'call', direction: 'inbound', summary: 'x' }, 400, 'path.id'],
      ['POST', '/v1/leads/42/transitions', { to: 'contacted' }, 400, 'path.id'],
      ['GET', '/v1/customers/42/interactions', undefined, 400, 'path.id'],
      ['GET', '/v1/customers/42/onboarding', undefined, 400, 'path.id'],
      ['POST', `/v1/customers/${id}/onboarding/opt-in`, { code: '12ab' }, 400, 'body.code'],
    ];
    for (const [method, url, body, status, path] of cases) {
      const res = await h.json(method, url, { body });
      expect(res.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(status);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        url,
      ).toContain(path);
    }
    expect(await count('contact_events', 'lead_id = $1', [id])).toBe(0);
    expect((await h.json('GET', `/v1/leads/${id}`)).body.transitions).toHaveLength(1);
  });

  it('answers 404 for unknown leads and customers, and 403 to the analyst role', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const [method, url, body] of [
      ['GET', `/v1/leads/${unknown}`, undefined],
      ['POST', `/v1/leads/${unknown}/transitions`, { to: 'contacted' }],
      ['POST', `/v1/leads/${unknown}/interactions`, { channel: 'call', direction: 'inbound', summary: 'x' }],
      ['GET', `/v1/leads/${unknown}/interactions`, undefined],
      ['POST', `/v1/customers/${unknown}/interactions`, { channel: 'call', direction: 'inbound', summary: 'x' }],
      ['GET', `/v1/customers/${unknown}/interactions`, undefined],
      ['GET', `/v1/customers/${unknown}/onboarding`, undefined],
      ['POST', `/v1/customers/${unknown}/onboarding/opt-in`, { code: '123456' }],
      ['POST', `/v1/customers/${unknown}/onboarding/opt-in/resend`, {}],
      ['POST', `/v1/leads/${unknown}/owner`, { ownerId: h.users.agent2.id }],
    ] as Array<[string, string, unknown]>) {
      const res = await h.json(method, url, { body });
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    const before = await count('leads');
    for (const [method, url, body] of [
      ['POST', '/v1/leads', lead()],
      ['GET', '/v1/leads', undefined],
      ['GET', `/v1/leads/${unknown}`, undefined],
      ['POST', `/v1/leads/${unknown}/transitions`, { to: 'contacted' }],
      ['POST', `/v1/customers/${unknown}/interactions`, { channel: 'call', direction: 'inbound', summary: 'x' }],
      ['GET', `/v1/customers/${unknown}/onboarding`, undefined],
    ] as Array<[string, string, unknown]>) {
      const res = await h.json(method, url, { as: 'analyst', body });
      expect(res.status, `${method} ${url}`).toBe(403);
    }
    expect(await count('leads')).toBe(before);
  });
});
